/**
 * @module ingress/verify-signature
 * Webex signs a webhook with the secret token as `X-Spark-Signature`: the
 * lowercase hex HMAC-SHA1 of the raw request body. Optionally (configured)
 * `X-Webex-Signature`, the hex HMAC-SHA256. Several secrets are tried so a
 * secret can be rotated without downtime; comparison is constant-time; the
 * digest is always over the bytes received, never over re-serialised JSON.
 * Every signature header present and enabled must verify.
 *
 * `readSignatureHeaders` throws (the route only passes a malformed or missing
 * signature on); `verifySignature` returns a `Result`, since the route tries
 * the wire bytes first and, for gzip, may try the decoded bytes next.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CdrError, fail, ok, type Result } from '../errors.ts';

export type SignatureConfig = {
  readonly secrets: readonly string[];
  readonly acceptSha256: boolean;
  readonly insecureNoSignature: boolean;
};

export type Algorithm = 'sha1' | 'sha256';
type Claim = { header: string; algorithm: Algorithm; digest: Buffer };

const SCHEMES: readonly { header: string; algorithm: Algorithm; hexLength: number }[] = [
  { header: 'x-spark-signature', algorithm: 'sha1', hexLength: 40 },
  { header: 'x-webex-signature', algorithm: 'sha256', hexLength: 64 },
];

export type SignatureClaims = { readonly claims: readonly Claim[] };

/**
 * First step, before the body is read: is a well-formed signature there?
 * Returns the claimed digests to check once the body is in; throws
 * `signature_missing` or `signature_invalid`.
 */
export const readSignatureHeaders = (headers: Headers, cfg: SignatureConfig): SignatureClaims => {
  if (cfg.insecureNoSignature && cfg.secrets.length === 0) return { claims: [] };
  const claims: Claim[] = [];
  for (const scheme of SCHEMES) {
    if (scheme.algorithm === 'sha256' && !cfg.acceptSha256) continue;
    const value = headers.get(scheme.header);
    if (value === null) continue;
    const hex = value.trim();
    if (hex.length !== scheme.hexLength || !/^[0-9a-f]+$/.test(hex)) {
      throw new CdrError(
        'signature_invalid',
        `${scheme.header} must be ${scheme.hexLength} lowercase hex characters`,
      );
    }
    claims.push({
      header: scheme.header,
      algorithm: scheme.algorithm,
      digest: Buffer.from(hex, 'hex'),
    });
  }
  if (claims.length === 0) {
    const names = cfg.acceptSha256 ? 'X-Spark-Signature or X-Webex-Signature' : 'X-Spark-Signature';
    throw new CdrError('signature_missing', `${names} header is required`);
  }
  return { claims };
};

/** Every claim matches one of the digests of its algorithm, or the first that does not fails. */
const verifyClaims = (
  claims: SignatureClaims,
  digests: ReadonlyMap<Algorithm, readonly Uint8Array[]>,
): Result<void> => {
  for (const claim of claims.claims) {
    let matched = false;
    for (const digest of digests.get(claim.algorithm) ?? []) {
      // no early exit inside the comparison: timingSafeEqual is constant-time
      if (timingSafeEqual(digest, claim.digest)) matched = true;
    }
    if (!matched) {
      return fail(new CdrError('signature_invalid', `${claim.header} does not match the body`));
    }
  }
  return ok(undefined);
};

/**
 * The HMACs of a body with every secret, for each algorithm claimed, taken
 * block by block as the body comes: one pass over the bytes for all of them
 * (here, and on a worker for a spooled body: spool-analysis.ts).
 */
export const createBodyHashes = (algorithms: readonly Algorithm[], secrets: readonly string[]) => {
  const hashes = algorithms.map((a) => secrets.map((s) => createHmac(a, s)));
  return {
    update(block: Uint8Array): void {
      for (const row of hashes) for (const h of row) h.update(block);
    },
    /** The digests by algorithm, one a secret. */
    digests: (): Map<Algorithm, Buffer[]> =>
      new Map(algorithms.map((a, i) => [a, (hashes[i] ?? []).map((h) => h.digest())])),
  };
};

/**
 * Second step: do the claims match the body? `bodies` are the byte sequences
 * the sender may have signed (the bytes on the wire; when gzip-encoded, also
 * the decoded bytes, since Webex does not say which it signs). Each is read
 * once, whatever the number of secrets.
 */
export const verifySignature = (
  claims: SignatureClaims,
  bodies: readonly Iterable<Buffer>[],
  secrets: readonly string[],
): Result<void> => {
  const algorithms = claimedAlgorithms(claims);
  const digests = new Map<Algorithm, Buffer[]>(algorithms.map((a) => [a, []]));
  for (const body of bodies) {
    const hashes = createBodyHashes(algorithms, secrets);
    for (const block of body) hashes.update(block);
    for (const [a, each] of hashes.digests()) digests.get(a)?.push(...each);
  }
  return verifyClaims(claims, digests);
};

/** The same check with the digests of the bytes received already taken (createBodyHashes). */
export const verifyDigests = (
  claims: SignatureClaims,
  digests: ReadonlyMap<Algorithm, readonly Uint8Array[]>,
): Result<void> => verifyClaims(claims, digests);

/** The algorithms of the claims, each once. */
export const claimedAlgorithms = (claims: SignatureClaims): Algorithm[] => [
  ...new Set(claims.claims.map((c) => c.algorithm)),
];

/** The signature a sender computes (used by the simulator, the demo and tests). */
export const sign = (
  body: Buffer | string,
  secret: string,
  algorithm: Algorithm = 'sha1',
): string => createHmac(algorithm, secret).update(body).digest('hex');
