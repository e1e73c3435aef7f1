/**
 * @module errors
 * Every error the connector reports has a stable `code` from one tuple, a
 * `retriable` flag (could the same input succeed later?) and, where it ends an
 * HTTP exchange, the status it maps to. Errors travel between stages as values
 * (`Result`); only the edges (HTTP handler, CLI) turn them into responses.
 */

export const ERROR_CODES = [
  'signature_missing',
  'signature_invalid',
  'content_type_unsupported',
  'content_encoding_unsupported',
  'body_too_large',
  'body_invalid_encoding',
  'body_invalid_json',
  'body_no_records',
  'record_not_object',
  'record_missing_report_id',
  'record_missing_org_uuid',
  'record_invalid_text',
  'record_encode_failed',
  'ingress_busy',
  'kafka_timeout',
  'kafka_failed',
  'kafka_unavailable',
  'registry_unavailable',
  'auth_failed',
  'not_ready',
  'startup_timeout',
  'webex_http',
  'webex_auth_failed',
  'webex_invalid_response',
  'window_aged_out',
  'config_invalid',
  'lease_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

type ErrorTraits = { readonly status: number; readonly retriable: boolean };

const TRAITS: Record<ErrorCode, ErrorTraits> = {
  signature_missing: { status: 401, retriable: false },
  signature_invalid: { status: 401, retriable: false },
  content_type_unsupported: { status: 415, retriable: false },
  content_encoding_unsupported: { status: 415, retriable: false },
  body_too_large: { status: 413, retriable: false },
  body_invalid_encoding: { status: 400, retriable: false },
  body_invalid_json: { status: 400, retriable: false },
  body_no_records: { status: 422, retriable: false },
  record_not_object: { status: 422, retriable: false },
  record_missing_report_id: { status: 422, retriable: false },
  record_missing_org_uuid: { status: 422, retriable: false },
  record_invalid_text: { status: 422, retriable: false },
  record_encode_failed: { status: 422, retriable: false },
  ingress_busy: { status: 503, retriable: true },
  kafka_timeout: { status: 503, retriable: true },
  kafka_failed: { status: 503, retriable: true },
  kafka_unavailable: { status: 503, retriable: true },
  registry_unavailable: { status: 503, retriable: true },
  auth_failed: { status: 503, retriable: false },
  not_ready: { status: 503, retriable: true },
  startup_timeout: { status: 503, retriable: true },
  webex_http: { status: 502, retriable: true },
  webex_auth_failed: { status: 502, retriable: false },
  webex_invalid_response: { status: 502, retriable: false },
  window_aged_out: { status: 500, retriable: false },
  config_invalid: { status: 500, retriable: false },
  lease_unavailable: { status: 503, retriable: true },
};

export class CdrError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retriable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CdrError';
    this.code = code;
    this.status = TRAITS[code].status;
    this.retriable = options?.retriable ?? TRAITS[code].retriable;
  }
}

export const isCdrError = (e: unknown): e is CdrError => e instanceof CdrError;

export type Result<T, E = CdrError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A message safe to log or return: never the payload, only what went wrong. */
export const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));
