/**
 * The benchmark's Go peer (bench/peers/go, issue 15): built with the machine's
 * Go toolchain (modules from the Go module proxy, GOPROXY as configured) into
 * bench/peers/go/.build (gitignored). `go build` itself is the cache: with its
 * build cache (~/.cache/go-build) warm, a rebuild of unchanged sources takes
 * about a second; the first build downloads and compiles franz-go and
 * hamba/avro (a minute or two on 2 cores). Without `go` on the PATH the peer is
 * skipped, and the reason is said and reported.
 *
 * The peer gets the field list of src/cdr/fields.ts as JSON (written next to
 * the binary), so its normaliser matches the same spellings as the ingress'.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FIELDS, toMatchKey } from '../../src/cdr/fields.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PEER_SOURCE = join(ROOT, 'bench/peers/go');
const BUILD = join(PEER_SOURCE, '.build');

export type GoPeerBuild =
  | { ok: true; binary: string; fieldsFile: string; goVersion: string; buildSeconds: number }
  | { ok: false; reason: string };

/** The field list as the peer reads it: Avro name, kind, the match keys of every spelling, NA rule. */
export const peerFields = () =>
  FIELDS.map((f) => ({
    name: f.name,
    kind: f.kind,
    matchKeys: [f.matchKey, ...(f.aliases ?? []).map(toMatchKey)],
    naIsValue: f.naIsValue === true,
  }));

export const buildGoPeer = async (): Promise<GoPeerBuild> => {
  let goVersion: string;
  try {
    goVersion = (await run('go', ['version'])).stdout.trim();
  } catch {
    return {
      ok: false,
      reason:
        'no `go` on the PATH: the Go peer is not built and not measured (install Go 1.26+ to include it)',
    };
  }
  mkdirSync(BUILD, { recursive: true });
  const binary = join(BUILD, 'gopeer');
  const t0 = performance.now();
  try {
    await run('go', ['build', '-o', binary, '.'], {
      cwd: PEER_SOURCE,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? String(e);
    return { ok: false, reason: `go build of bench/peers/go failed: ${stderr.slice(0, 2000)}` };
  }
  const fieldsFile = join(BUILD, 'fields.json');
  writeFileSync(fieldsFile, JSON.stringify(peerFields()));
  return {
    ok: true,
    binary,
    fieldsFile,
    goVersion,
    buildSeconds: Math.round((performance.now() - t0) / 100) / 10,
  };
};

export type PeerSettings = {
  brokers: string;
  registryUrl: string;
  topic: string;
  port: number;
  secret: string;
  feed: string;
  ackTimeoutMs: number;
};

/** Starts the built peer and waits until it answers /readyz (schema registered, Kafka reached). */
export const startGoPeer = async (
  build: Extract<GoPeerBuild, { ok: true }>,
  s: PeerSettings,
): Promise<ChildProcess> => {
  const child = spawn(build.binary, [], {
    env: {
      ...process.env,
      PORT: String(s.port),
      KAFKA_BROKERS: s.brokers,
      SCHEMA_REGISTRY_URL: s.registryUrl,
      CDR_TOPIC: s.topic,
      WEBHOOK_SECRETS: s.secret,
      CDR_FEED: s.feed,
      ACK_TIMEOUT_MS: String(s.ackTimeoutMs),
      PEER_FIELDS_FILE: build.fieldsFile,
      PEER_SCHEMA_FILE: join(ROOT, 'schemas/cdr.avsc'),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return waitReady(child, s.port, 'go peer');
};

/** Resolves with the receiver once it answers /readyz on the port; throws after a minute or if it exits. */
export const waitReady = async (
  child: ChildProcess,
  port: number,
  what: string,
): Promise<ChildProcess> => {
  const until = Date.now() + 60_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return child;
    if (Date.now() > until || child.exitCode !== null) throw new Error(`${what} not ready`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** A TCP port free on 127.0.0.1 now (the system picks it), for a receiver to listen on. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
