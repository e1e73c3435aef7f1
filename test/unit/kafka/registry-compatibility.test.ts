/**
 * The compatibility step before registration, against both answers a registry
 * gives for a subject without a setting of its own: Confluent's 404 (error
 * 40408) and Apicurio's 200 with the global default. The integration tests run
 * Apicurio for real; this pins the Confluent branch with a minimal HTTP peer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { CdrError } from '../../../src/errors.ts';
import { ensureBackwardCompatibility } from '../../../src/kafka/registry.ts';
import { listen } from '../../../src/listen.ts';

const registryWith = async (get: { status: number; body: unknown }, putStatus = 200) => {
  const puts: unknown[] = [];
  const app = new Hono();
  app.get('/config/:subject', (c) => c.json(get.body as object, get.status as 200));
  app.put('/config/:subject', async (c) => {
    puts.push(await c.req.json());
    return c.json({ compatibility: 'BACKWARD' }, putStatus as 200);
  });
  const server = await listen(app.fetch, { port: 0 });
  return { url: server.url, puts, close: () => server.close() };
};

describe('ensureBackwardCompatibility', () => {
  it('Confluent: 404 for the subject -> sets BACKWARD', async () => {
    const r = await registryWith({
      status: 404,
      body: { error_code: 40408, message: 'not found' },
    });
    try {
      assert.equal(await ensureBackwardCompatibility({ url: r.url }, 's-value'), 'BACKWARD');
      assert.deepEqual(r.puts, [{ compatibility: 'BACKWARD' }]);
    } finally {
      await r.close();
    }
  });

  it('Apicurio: 200 with the global default NONE -> sets BACKWARD', async () => {
    const r = await registryWith({ status: 200, body: { compatibilityLevel: 'NONE' } });
    try {
      assert.equal(await ensureBackwardCompatibility({ url: r.url }, 's-value'), 'BACKWARD');
      assert.equal(r.puts.length, 1);
    } finally {
      await r.close();
    }
  });

  it('a level at least as strict as BACKWARD is kept', async () => {
    for (const level of ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']) {
      const r = await registryWith({ status: 200, body: { compatibilityLevel: level } });
      try {
        assert.equal(await ensureBackwardCompatibility({ url: r.url }, 's-value'), level);
        assert.equal(r.puts.length, 0);
      } finally {
        await r.close();
      }
    }
  });

  it('a registry error or refusal is a retriable registry_unavailable', async () => {
    const broken = await registryWith({ status: 500, body: {} });
    const refusing = await registryWith({ status: 404, body: {} }, 403);
    try {
      for (const url of [broken.url, refusing.url, 'http://127.0.0.1:1']) {
        await assert.rejects(ensureBackwardCompatibility({ url }, 's-value'), (e: unknown) => {
          assert.ok(e instanceof CdrError);
          assert.equal(e.code, 'registry_unavailable');
          assert.equal(e.retriable, true);
          return true;
        });
      }
    } finally {
      await broken.close();
      await refusing.close();
    }
  });
});
