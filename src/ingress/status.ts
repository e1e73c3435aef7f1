/**
 * @module ingress/status
 * The HTTP edge's one table: the status a delivery is answered with for each
 * error code that can end it. The stages throw coded errors (errors.ts) and
 * know nothing of HTTP; `app.onError` looks the status up here. The codes of
 * the reconciler's own work never reach the ingress and have no status.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../errors.ts';

type ReconcilerCode =
  | 'webex_http'
  | 'webex_auth_failed'
  | 'webex_invalid_response'
  | 'window_aged_out'
  | 'lease_unavailable';

/** The codes a delivery can be refused with. */
export type IngressCode = Exclude<ErrorCode, ReconcilerCode>;

const STATUS = {
  signature_missing: 401,
  signature_invalid: 401,
  content_type_unsupported: 415,
  content_encoding_unsupported: 415,
  body_too_large: 413,
  body_invalid_encoding: 400,
  body_invalid_json: 400,
  body_no_records: 422,
  record_not_object: 422,
  record_missing_report_id: 422,
  record_missing_org_uuid: 422,
  record_invalid_text: 422,
  record_encode_failed: 422,
  ingress_busy: 503,
  worker_failed: 503,
  kafka_timeout: 503,
  kafka_failed: 503,
  kafka_unavailable: 503,
  registry_unavailable: 503,
  auth_failed: 503,
  not_ready: 503,
  startup_timeout: 503,
  config_invalid: 500,
} as const satisfies Record<IngressCode, ContentfulStatusCode>;

const isIngressCode = (code: ErrorCode): code is IngressCode => Object.hasOwn(STATUS, code);

/** The status a delivery refused with `code` gets; null for a code the ingress never answers with. */
export const httpStatus = (code: ErrorCode): ContentfulStatusCode | null =>
  isIngressCode(code) ? STATUS[code] : null;
