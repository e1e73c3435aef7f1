/**
 * @module reconciler/webex/schemas
 * The bodies Webex answers with, as zod schemas: a `cdrcountbyorg` page, a
 * `cdrsbyorg` page (`{ items }` or a bare array), an OAuth token response, and
 * an error body. `parseBody` reads a 2xx answer with one of them (an empty
 * body is the caller's `empty`); `errorDetail` quotes what an error answer
 * says (message and `trackingId`, clipped), never the request.
 */
import { z } from 'zod';
import { CdrError } from '../../errors.ts';

const ERROR_DETAIL_MAX_CHARS = 300;

const orgCountSchema = z.object({
  orgId: z.string().min(1),
  count: z.number().int().nonnegative(),
});
export const countPageSchema = z.object({ cdr_counts: z.array(orgCountSchema) });
export const recordsPageSchema = z.union([
  z.array(z.unknown()),
  z.object({ items: z.array(z.unknown()) }).transform((body) => body.items),
]);
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
  refresh_token: z.string().min(1).optional(),
});
const webexErrorSchema = z.object({
  message: z.string().optional(),
  trackingId: z.string().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
  errors: z.array(z.object({ description: z.string().optional() })).optional(),
});

export type OrgCount = z.infer<typeof orgCountSchema>;

export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The first issues of a failed parse, as `path: message`. */
export const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');

/**
 * A 2xx body read with `schema`; `empty` for an empty body. Not JSON, or not
 * of the schema's shape: `webex_invalid_response` naming `what`.
 */
export const parseBody = <T>(
  schema: z.ZodType<T>,
  text: string,
  what: string,
  empty: T,
): { value: T; empty: boolean } => {
  if (text.trim() === '') return { value: empty, empty: true };
  const json = parseJson(text);
  if (json === undefined) {
    throw new CdrError('webex_invalid_response', `${what}: body is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new CdrError(
      'webex_invalid_response',
      `${what}: unexpected body: ${describeIssues(parsed.error)}`,
    );
  }
  return { value: parsed.data, empty: false };
};

const clip = (s: string): string =>
  s.length > ERROR_DETAIL_MAX_CHARS ? `${s.slice(0, ERROR_DETAIL_MAX_CHARS)}...` : s;

/** `: <message> (trackingId ...)` from a Webex error body or headers; never the request. */
export const errorDetail = (text: string, headers: Headers): string => {
  const parsed = webexErrorSchema.safeParse(parseJson(text));
  const body = parsed.success ? parsed.data : {};
  const message =
    body.message ??
    body.errors?.find((e) => e.description)?.description ??
    [body.error, body.error_description].filter(Boolean).join(': ');
  const trackingId = body.trackingId ?? headers.get('trackingid') ?? undefined;
  return `${message ? `: ${clip(message)}` : ''}${trackingId ? ` (trackingId ${clip(trackingId)})` : ''}`;
};
