/**
 * @module ingress/parse-body
 * Bytes to the list of raw CDRs. The body must be UTF-8 JSON without a byte
 * order mark. Webex does not document the wrapper, so three shapes are
 * accepted: `{"items": [...]}`, a bare array, and an envelope holding
 * `data.items` or `body.items`. Anything else is refused (422).
 */

import { isPlainObject } from '../cdr/normalise.ts';
import { CdrError, fail, ok, type Result } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const decodeJson = (bytes: Buffer): Result<unknown> => {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return fail(new CdrError('body_invalid_encoding', 'the body starts with a byte order mark'));
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail(new CdrError('body_invalid_encoding', 'the body is not valid UTF-8'));
  }
  try {
    return ok(JSON.parse(text));
  } catch (e) {
    // V8 quotes part of the text in some messages: keep only the ones that do not.
    const detail =
      e instanceof Error && !e.message.includes('"') ? e.message.slice(0, 200) : 'syntax error';
    return fail(new CdrError('body_invalid_json', `the body is not valid JSON: ${detail}`));
  }
};

export const extractRecords = (doc: unknown): Result<unknown[]> => {
  if (Array.isArray(doc)) return ok(doc);
  if (isPlainObject(doc)) {
    if (Array.isArray(doc.items)) return ok(doc.items);
    for (const envelope of ['data', 'body'] as const) {
      const inner = doc[envelope];
      if (isPlainObject(inner) && Array.isArray(inner.items)) return ok(inner.items);
    }
  }
  return fail(
    new CdrError(
      'body_no_records',
      'no records array: expected {"items":[...]}, a bare array, or {"data":{"items":[...]}}',
    ),
  );
};

export const parseRecords = (bytes: Buffer): Result<unknown[]> => {
  const doc = decodeJson(bytes);
  return doc.ok ? extractRecords(doc.value) : doc;
};
