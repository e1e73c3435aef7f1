/**
 * The compatibility step before registration, against both answers a registry
 * gives for a subject without a setting of its own: Confluent's 404 (error
 * 40408, the global level then in force) and Apicurio's 200 with the global
 * default; and the answers that fail the start: 401/403 (credentials, a
 * read-only registry) and a 404 that is not the registry's own. The
 * integration tests run Apicurio for real; this pins the Confluent branch and
 * a registry answering 403 with a minimal HTTP peer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { readCdrSchema } from '../../../src/cdr/avro-schema.ts';
import { CdrError } from '../../../src/errors.ts';
import { createRegistryClient, ensureBackwardCompatibility } from '../../../src/kafka/registry.ts';
import { listen } from '../../../src/listen.ts';

const registryWith = async (
  get: { status: number; body: unknown },
  putStatus = 200,
  global: string = 'BACKWARD',
) => {
  const puts: unknown[] = [];
  const app = new Hono();
  app.get('/config', (c) => c.json({ compatibilityLevel: global }));
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

  it('a stricter global level is kept: the subject is set to it, never to BACKWARD', async () => {
    for (const level of ['BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']) {
      for (const subject of [
        { status: 404, body: { error_code: 40408 } }, // Confluent: no level of its own
        { status: 200, body: { compatibilityLevel: 'NONE' } }, // Apicurio: no rule of its own
      ]) {
        const r = await registryWith(subject, 200, level);
        try {
          assert.equal(await ensureBackwardCompatibility({ url: r.url }, 's-value'), level);
          assert.deepEqual(r.puts, [{ compatibility: level }]);
        } finally {
          await r.close();
        }
      }
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

  it('a registry error or an unreachable registry is a retriable registry_unavailable', async () => {
    const broken = await registryWith({ status: 500, body: {} });
    try {
      for (const url of [broken.url, 'http://127.0.0.1:1']) {
        await assert.rejects(ensureBackwardCompatibility({ url }, 's-value'), (e: unknown) => {
          assert.ok(e instanceof CdrError);
          assert.equal(e.code, 'registry_unavailable');
          assert.equal(e.retriable, true);
          return true;
        });
      }
    } finally {
      await broken.close();
    }
  });

  it('403 (a read-only registry) fails for good, with a hint', async () => {
    const readOnly = await registryWith({ status: 404, body: { error_code: 40408 } }, 403, 'NONE');
    try {
      await assert.rejects(ensureBackwardCompatibility({ url: readOnly.url }, 's-value'), (e) => {
        assert.ok(e instanceof CdrError);
        assert.equal(e.code, 'auth_failed');
        assert.equal(e.retriable, false);
        assert.match(e.message, /403/);
        assert.match(e.message, /read-only/);
        assert.match(e.message, /SCHEMA_AUTO_REGISTER=false/);
        return true;
      });
    } finally {
      await readOnly.close();
    }
  });

  it("a 404 that is not the registry's own (wrong path) fails for good, naming /apis/ccompat/v7", async () => {
    const root = await registryWith({
      status: 404,
      body: { error_code: 404, message: 'HTTP 404' },
    });
    try {
      await assert.rejects(ensureBackwardCompatibility({ url: root.url }, 's-value'), (e) => {
        assert.ok(e instanceof CdrError);
        assert.equal(e.code, 'config_invalid');
        assert.equal(e.retriable, false);
        assert.match(e.message, /SCHEMA_REGISTRY_URL/);
        assert.match(e.message, /\/apis\/ccompat\/v7/);
        return true;
      });
    } finally {
      await root.close();
    }
  });
});

describe('a registry answering 403 to everything (read-only, governed)', () => {
  const forbidding = async () => {
    const app = new Hono();
    app.all('*', (c) => c.json({ error_code: 40301, message: 'forbidden' }, 403));
    return listen(app.fetch, { port: 0 });
  };

  for (const autoRegister of [true, false]) {
    it(`registerEncoder fails with auth_failed and the hint (autoRegister=${autoRegister})`, async () => {
      const server = await forbidding();
      try {
        const client = createRegistryClient({ url: server.url, token: 'read-only', autoRegister });
        await assert.rejects(client.registerEncoder('s-value', readCdrSchema().text), (e) => {
          assert.ok(e instanceof CdrError);
          assert.equal(e.code, 'auth_failed');
          assert.match(e.message, /403 \(forbidden\)/);
          assert.doesNotMatch(e.message, /read-only@|Bearer/);
          return true;
        });
      } finally {
        await server.close();
      }
    });
  }
});
