/**
 * @module errors
 * Every error the connector reports has a stable `code` from one tuple and a
 * `retriable` flag (could the same input succeed later?). A function returns
 * a `Result` where its caller branches on the outcome, and throws a `CdrError`
 * where the caller would only pass the error on (zod's `safeParse`/`parse`).
 * Only the edges turn codes into answers: the ingress maps each code to its
 * HTTP status (ingress/status.ts), the CLI to an exit code.
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
  'worker_failed',
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

/** Could the same input succeed later? */
const RETRIABLE: Record<ErrorCode, boolean> = {
  signature_missing: false,
  signature_invalid: false,
  content_type_unsupported: false,
  content_encoding_unsupported: false,
  body_too_large: false,
  body_invalid_encoding: false,
  body_invalid_json: false,
  body_no_records: false,
  record_not_object: false,
  record_missing_report_id: false,
  record_missing_org_uuid: false,
  record_invalid_text: false,
  record_encode_failed: false,
  ingress_busy: true,
  worker_failed: true,
  kafka_timeout: true,
  kafka_failed: true,
  kafka_unavailable: true,
  registry_unavailable: true,
  auth_failed: false,
  not_ready: true,
  startup_timeout: true,
  webex_http: true,
  webex_auth_failed: false,
  webex_invalid_response: false,
  window_aged_out: false,
  config_invalid: false,
  lease_unavailable: true,
};

export class CdrError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retriable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CdrError';
    this.code = code;
    this.retriable = options?.retriable ?? RETRIABLE[code];
  }
}

export const isCdrError = (e: unknown): e is CdrError => e instanceof CdrError;

export type Result<T, E = CdrError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A message safe to log or return: never the payload, only what went wrong. */
export const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));
