/**
 * The benchmark keeps working: `npm run bench -- --smoke --ingress-env KAFKA_COMPRESSION=zstd`
 * (tiny cases, seconds) against the test stack (its brokers and registry, given to the
 * benchmark as KAFKA_BROKERS and SCHEMA_REGISTRY_URL) writes a report whose fields are sane.
 * With `go` on the PATH the Go peer (bench/peers/go) is built (once: Go's build cache keeps it)
 * and measured beside the ingress, after the bench has checked that the records it writes for
 * a sample delivery, decoded with the registry's schema, equal the ingress'; without `go` the
 * report must say the peer was skipped and why. No timing targets here: those are figures of
 * the full run, read by people.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Cores, ThreadCpu } from '../bench/ingress.bench.ts';
import { getStack, type TestStack } from './helpers/stack.ts';

const BENCH = fileURLToPath(new URL('../bench/ingress.bench.ts', import.meta.url));

let stack: TestStack;
before(async () => {
  stack = await getStack();
});
after(async () => {
  await stack.close();
});

const hasGo = (() => {
  try {
    execFileSync('go', ['version']);
    return true;
  } catch {
    return false;
  }
})();

type Case = {
  receiver: string;
  recordsPerDelivery: number;
  senders: number;
  deliveries: number;
  rounds: number;
  records: number;
  recordsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
  cpuSecondsPer10k: number;
  cpuByThreadPer10k: ThreadCpu;
  cores: Cores;
  reference: { recordsPerSecond: number };
  ratio: number;
};

test('npm run bench -- --smoke writes results.json, RESULTS.md and a PNG with sane figures, the Go peer beside the ingress', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=TimeoutNegativeWarning',
        BENCH,
        '--smoke',
        '--ingress-env',
        'KAFKA_COMPRESSION=zstd',
        '--out',
        out,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          KAFKA_BROKERS: stack.brokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          // two rounds, receivers taking turns: the figures are summed over both
          BENCH_ROUNDS: '2',
        },
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, output.slice(-3000));

    const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      machine: { nproc: number; node: string; kafka: string; cpuModel: string };
      avgJsonBytes: number;
      avgAvroBytes: number;
      bytesOnDiskPerRecord: number;
      peer: { checkedRecords?: number; skipped?: string };
      perfTest: { records: number; recordsPerSecond: number; cpuSecondsPer10k: number };
      cases: Case[];
    };
    assert.ok(report.machine.nproc >= 1);
    assert.equal(report.machine.node, process.version);
    assert.match(report.machine.kafka, /^\d+\.\d+\.\d+$/);
    assert.ok(report.avgJsonBytes > 1000, `JSON ${report.avgJsonBytes} B a record`);
    assert.ok(report.avgAvroBytes > 100 && report.avgAvroBytes < report.avgJsonBytes);
    // the ingress ran with KAFKA_COMPRESSION=zstd (--ingress-env): the broker holds less than the Avro alone
    assert.ok(
      report.bytesOnDiskPerRecord > 0 && report.bytesOnDiskPerRecord < report.avgAvroBytes,
      `${report.bytesOnDiskPerRecord} B a record on disk, ${report.avgAvroBytes} B of Avro`,
    );
    const ingress = 'platformatic KAFKA_COMPRESSION=zstd';
    const receivers = hasGo ? [ingress, 'go-peer'] : [ingress];
    if (hasGo) assert.equal(report.peer.checkedRecords, 50, JSON.stringify(report.peer));
    else assert.match(report.peer.skipped ?? '', /no `go` on the PATH/);
    assert.deepEqual(
      report.cases.map((c) => [c.recordsPerDelivery, c.senders, c.receiver]),
      [
        [100, 1],
        [100, 4],
        [500, 1],
      ].flatMap(([size, senders]) => receivers.map((r) => [size, senders, r])),
    );
    assert.ok(report.perfTest.records >= 1000 && report.perfTest.recordsPerSecond > 0);
    assert.ok(report.perfTest.cpuSecondsPer10k > 0, 'perf-test CPU measured');
    for (const c of report.cases) {
      assert.equal(c.records, c.deliveries * c.recordsPerDelivery);
      // in two rounds of the same number of deliveries, a multiple of the senders
      assert.equal(c.rounds, 2);
      assert.equal(c.deliveries % (2 * c.senders), 0, `${c.deliveries} deliveries`);
      assert.ok(c.deliveries >= c.senders);
      assert.ok(c.recordsPerSecond > 0 && c.reference.recordsPerSecond > 0);
      assert.ok(c.p99Ms >= c.p50Ms && c.p50Ms > 0);
      assert.ok(c.peakRssMiB > 5 && c.peakRssMiB < 4096);
      assert.ok(c.cpuSecondsPer10k > 0);
      assert.ok(Math.abs(c.ratio - c.recordsPerSecond / c.reference.recordsPerSecond) < 0.01);
      const t = c.cpuByThreadPer10k;
      assert.ok(t.main >= 0 && t.workers >= 0 && t.v8 >= 0 && t.other >= 0, JSON.stringify(t));
      // where the machine's cores went: every part measured, and together they are the
      // machine's cores (clock ticks of 10 ms on a case of a fraction of a second: loosely)
      const k = c.cores;
      assert.ok(Object.values(k).every((v) => v >= 0) && k.receiver > 0, JSON.stringify(k));
      const total = k.receiver + k.broker + k.registry + k.senders + k.rest + k.idle;
      assert.ok(
        total > report.machine.nproc * 0.5 && total < report.machine.nproc * 1.5,
        `${total} cores of ${report.machine.nproc}: ${JSON.stringify(k)}`,
      );
    }
    // CPU by thread, from Node's thread names: the ingress' main thread works on
    // every delivery, the Go peer has no thread of those names
    const summed = (receiver: string) => {
      const sum = { main: 0, workers: 0, v8: 0, other: 0 };
      for (const c of report.cases.filter((x) => x.receiver === receiver)) {
        for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += c.cpuByThreadPer10k[k];
      }
      return sum;
    };
    for (const r of receivers.filter((x) => x !== 'go-peer')) {
      assert.ok(summed(r).main > 0, `${r}: its main thread's CPU measured`);
    }
    if (receivers.includes('go-peer')) {
      const go = summed('go-peer');
      assert.ok(go.other > 0 && go.main === 0 && go.workers === 0, JSON.stringify(go));
    }

    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    assert.equal(
      md.split('\n').filter((l) => /^\| \d+ x[14] \| /.test(l) && l.split('|').length === 15)
        .length,
      3 * receivers.length,
    );
    assert.match(md, /\| case \| receiver \| main \| workers \| V8 helpers \| other \| all \|/);
    assert.match(
      md,
      /\| case \| receiver \| receiver \| broker \| registry \| senders \| rest \| idle \|/,
    );
    assert.match(md, /\| \d+ records \| kafka-producer-perf-test \|/);
    const png = readFileSync(join(out, 'throughput.png'));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(png.subarray(12, 16).toString('ascii'), 'IHDR');
    assert.ok(png.readUInt32BE(16) >= 700);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
