import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { type ErrorCode, isCdrError } from '../../../src/errors.ts';
import {
  readSignatureHeaders,
  type SignatureClaims,
  type SignatureConfig,
  sign,
  verifySignature,
} from '../../../src/ingress/verify-signature.ts';

const SECRET = 'partner-hub-secret';
const BODY = Buffer.from('{"items":[{"Report ID":"r-1",  "Org UUID":"o-1"}]}');

const cfg = (over: Partial<SignatureConfig> = {}): SignatureConfig => ({
  secrets: [SECRET],
  acceptSha256: false,
  insecureNoSignature: false,
  ...over,
});

/** Runs both steps the way the app does; returns the error code or 'ok'. */
const check = (
  headers: Record<string, string>,
  body: Buffer | readonly Buffer[],
  config: SignatureConfig = cfg(),
): ErrorCode | 'ok' => {
  let claims: SignatureClaims;
  try {
    claims = readSignatureHeaders(new Headers(headers), config);
  } catch (e) {
    if (isCdrError(e)) return e.code;
    throw e;
  }
  if (claims.claims.length === 0) return 'ok';
  const parts = Buffer.isBuffer(body) ? [body] : body;
  const verified = verifySignature(claims, [parts], config.secrets);
  return verified.ok ? 'ok' : verified.error.code;
};

const sha1 = (body: Buffer | string, secret = SECRET) =>
  createHmac('sha1', secret).update(body).digest('hex');

describe('sign', () => {
  it('is the lowercase hex HMAC of the bytes', () => {
    assert.equal(sign(BODY, SECRET), sha1(BODY));
    assert.match(sign(BODY, SECRET), /^[0-9a-f]{40}$/);
    assert.match(sign(BODY, SECRET, 'sha256'), /^[0-9a-f]{64}$/);
  });
});

describe('X-Spark-Signature (HMAC-SHA1)', () => {
  it('passes for the HMAC-SHA1 of the raw bytes', () => {
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY) }, BODY), 'ok');
  });

  it('passes when the body arrived in several chunks', () => {
    const chunks = [BODY.subarray(0, 5), BODY.subarray(5, 17), BODY.subarray(17)];
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY) }, chunks), 'ok');
  });

  it('fails for the signature of the re-serialised JSON', () => {
    const reserialised = JSON.stringify(JSON.parse(BODY.toString()));
    assert.notEqual(reserialised, BODY.toString());
    assert.equal(check({ 'X-Spark-Signature': sha1(reserialised) }, BODY), 'signature_invalid');
  });

  it('fails when one byte changed or a newline was added', () => {
    const sig = sha1(BODY);
    const changed = Buffer.from(BODY);
    changed[10] = (changed[10] ?? 0) ^ 1;
    assert.equal(check({ 'X-Spark-Signature': sig }, changed), 'signature_invalid');
    const newline = Buffer.concat([BODY, Buffer.from('\n')]);
    assert.equal(check({ 'X-Spark-Signature': sig }, newline), 'signature_invalid');
    assert.equal(check({ 'X-Spark-Signature': sig }, BODY.subarray(0, -1)), 'signature_invalid');
  });

  it('fails with the wrong secret', () => {
    assert.equal(
      check({ 'X-Spark-Signature': sha1(BODY, 'other-secret') }, BODY),
      'signature_invalid',
    );
  });

  it('refuses malformed signatures before the body is read', () => {
    const good = sha1(BODY);
    for (const bad of [
      good.slice(0, 39),
      `${good}0`,
      `${good.slice(0, 39)}g`,
      good.toUpperCase(),
      `sha1=${good}`,
      'x'.repeat(40),
      '',
      'a'.repeat(8192),
    ]) {
      assert.throws(
        () => readSignatureHeaders(new Headers({ 'X-Spark-Signature': bad }), cfg()),
        { code: 'signature_invalid' },
        JSON.stringify(bad),
      );
    }
  });

  it('reports a missing signature as signature_missing', () => {
    assert.equal(check({}, BODY), 'signature_missing');
    assert.equal(check({ 'X-Other': sha1(BODY) }, BODY), 'signature_missing');
  });

  it('never echoes the signature in the error message', () => {
    const forged = 'a'.repeat(40);
    const claims = readSignatureHeaders(new Headers({ 'X-Spark-Signature': forged }), cfg());
    const r = verifySignature(claims, [[BODY]], [SECRET]);
    assert.ok(!r.ok);
    assert.equal(r.error.message.includes(forged), false);
  });
});

describe('secret rotation', () => {
  it('accepts a signature made with any configured secret', () => {
    const rotating = cfg({ secrets: ['old-secret', 'new-secret'] });
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY, 'old-secret') }, BODY, rotating), 'ok');
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY, 'new-secret') }, BODY, rotating), 'ok');
  });

  it('refuses the old secret once it is removed', () => {
    const rotated = cfg({ secrets: ['new-secret'] });
    assert.equal(
      check({ 'X-Spark-Signature': sha1(BODY, 'old-secret') }, BODY, rotated),
      'signature_invalid',
    );
  });
});

describe('X-Webex-Signature (HMAC-SHA256)', () => {
  const sha256 = (body: Buffer) => createHmac('sha256', SECRET).update(body).digest('hex');

  it('is accepted only when acceptSha256 is set', () => {
    const headers = { 'X-Webex-Signature': sha256(BODY) };
    assert.equal(check(headers, BODY, cfg({ acceptSha256: true })), 'ok');
    assert.equal(check(headers, BODY, cfg({ acceptSha256: false })), 'signature_missing');
  });

  it('fails for a wrong SHA-256 digest', () => {
    const headers = { 'X-Webex-Signature': sha256(Buffer.from('other')) };
    assert.equal(check(headers, BODY, cfg({ acceptSha256: true })), 'signature_invalid');
  });

  it('refuses a SHA-1-length value in the SHA-256 header', () => {
    const headers = { 'X-Webex-Signature': sha1(BODY) };
    assert.equal(check(headers, BODY, cfg({ acceptSha256: true })), 'signature_invalid');
  });

  it('requires every present signature to verify', () => {
    const both = cfg({ acceptSha256: true });
    assert.equal(
      check({ 'X-Spark-Signature': sha1(BODY), 'X-Webex-Signature': sha256(BODY) }, BODY, both),
      'ok',
    );
    assert.equal(
      check(
        { 'X-Spark-Signature': sha1(BODY), 'X-Webex-Signature': sha256(Buffer.from('x')) },
        BODY,
        both,
      ),
      'signature_invalid',
    );
  });
});

describe('gzip bodies', () => {
  it('accepts a signature over either the wire bytes or the decoded bytes', () => {
    const wire = Buffer.from('compressed bytes');
    const decoded = BODY;
    for (const signed of [wire, decoded]) {
      const claims = readSignatureHeaders(
        new Headers({ 'X-Spark-Signature': sha1(signed) }),
        cfg(),
      );
      assert.equal(verifySignature(claims, [[wire], [decoded]], [SECRET]).ok, true);
    }
    const claims = readSignatureHeaders(new Headers({ 'X-Spark-Signature': sha1('x') }), cfg());
    assert.equal(verifySignature(claims, [[wire], [decoded]], [SECRET]).ok, false);
  });
});

describe('insecure mode', () => {
  it('asks for no signature when insecure and no secrets are configured', () => {
    const insecure = cfg({ secrets: [], insecureNoSignature: true });
    assert.equal(readSignatureHeaders(new Headers(), insecure).claims.length, 0);
    assert.equal(check({ 'X-Spark-Signature': 'garbage' }, BODY, insecure), 'ok');
  });

  it('still verifies when secrets are configured despite the insecure flag', () => {
    const both = cfg({ insecureNoSignature: true });
    assert.equal(check({}, BODY, both), 'signature_missing');
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY, 'x') }, BODY, both), 'signature_invalid');
    assert.equal(check({ 'X-Spark-Signature': sha1(BODY) }, BODY, both), 'ok');
  });

  it('verifies nothing as valid without secrets outside insecure mode', () => {
    assert.equal(
      check({ 'X-Spark-Signature': sha1(BODY) }, BODY, cfg({ secrets: [] })),
      'signature_invalid',
    );
  });
});
