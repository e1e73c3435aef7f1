import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { autoWorkers } from '../../../src/ingress/options.ts';
import { parseIngressConfig } from '../../../src/settings.ts';

const BASE = {
  KAFKA_BROKERS: 'localhost:9092',
  SCHEMA_REGISTRY_URL: 'http://localhost:8081',
  CDR_FEED: 'analytics',
  WEBHOOK_SECRETS: 'secret-1',
};

const parsed = (env: Record<string, string>) => parseIngressConfig({ ...BASE, ...env });

describe('INGRESS_WORKERS', () => {
  it('auto: a worker per core from two cores, at most four', () => {
    assert.equal(autoWorkers(1), 0);
    assert.equal(autoWorkers(2), 2);
    assert.equal(autoWorkers(3), 3);
    assert.equal(autoWorkers(8), 4);
    const r = parsed({});
    assert.ok(r.ok);
    assert.equal(r.config.workers, autoWorkers(availableParallelism()));
    assert.equal(r.config.workersMinBytes, 1024 * 1024);
  });

  it('takes a number of workers (0: inline) and a minimum body size', () => {
    const r = parsed({ INGRESS_WORKERS: '0', INGRESS_WORKERS_MIN_BYTES: '0' });
    assert.ok(r.ok);
    assert.equal(r.config.workers, 0);
    assert.equal(r.config.workersMinBytes, 0);
    const three = parsed({ INGRESS_WORKERS: '3' });
    assert.ok(three.ok);
    assert.equal(three.config.workers, 3);
  });

  it('refuses anything else', () => {
    for (const bad of ['many', '-1', '1.5', '65']) {
      const r = parsed({ INGRESS_WORKERS: bad });
      assert.ok(!r.ok, bad);
      assert.ok(r.problems.some((p) => p.startsWith('INGRESS_WORKERS')));
    }
  });
});
