import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  compatibilityPartitioner,
  MultipleErrors,
  NetworkError,
  ResponseError,
} from '@platformatic/kafka';
import fc from 'fast-check';
import { CdrError } from '../../../../src/errors.ts';
import {
  platformaticAuthFailure,
  platformaticOptions,
  rememberingPartitioner,
} from '../../../../src/kafka/platformatic/producer.ts';

const base = {
  brokers: ['b1:9092', 'b2:9092'],
  clientId: 'c',
  ssl: false as const,
  sasl: undefined,
};

describe('platformaticOptions', () => {
  it('maps brokers and client id, without TLS or SASL by default', () => {
    assert.deepEqual(platformaticOptions(base), {
      clientId: 'c',
      bootstrapBrokers: ['b1:9092', 'b2:9092'],
    });
  });

  it('hands the TLS settings to tls.connect and names the SASL mechanism as the library does', () => {
    const tls = {
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      servername: 'kafka.example',
      rejectUnauthorized: true,
    };
    for (const [ours, theirs] of [
      ['plain', 'PLAIN'],
      ['scram-sha-256', 'SCRAM-SHA-256'],
      ['scram-sha-512', 'SCRAM-SHA-512'],
    ] as const) {
      const o = platformaticOptions({
        ...base,
        ssl: tls,
        sasl: { mechanism: ours, username: 'u', password: 'p' },
      });
      assert.deepEqual(o.tls, tls);
      assert.deepEqual(o.sasl, { mechanism: theirs, username: 'u', password: 'p' });
    }
  });
});

describe('platformaticAuthFailure', () => {
  it("finds a refused authentication wrapped in other errors, by the library's error code", () => {
    // as the library reports it: a NetworkError caused by an AuthenticationError
    const auth = new AuthenticationError('SASL authentication failed.');
    const wrapped = new MultipleErrors('x', [
      new Error('other'),
      new NetworkError('Connection to b1:9092 failed.', { cause: auth }),
    ]);
    const e = platformaticAuthFailure(wrapped);
    assert.ok(e instanceof CdrError);
    assert.equal(e.code, 'auth_failed');
    assert.match(e.message, /KAFKA_SASL_PASSWORD/);
  });

  it("finds Kafka's SASL_AUTHENTICATION_FAILED (error code 58) in a response", () => {
    const response = new ResponseError(36, 2, { '/': [58, 'Authentication failed'] }, {});
    const e = platformaticAuthFailure(new Error('outer', { cause: response }));
    assert.equal(e?.code, 'auth_failed');
  });

  it('leaves other errors alone, whatever their message says', () => {
    assert.equal(platformaticAuthFailure(new Error('connect ECONNREFUSED')), null);
    assert.equal(platformaticAuthFailure(new Error('SASL handshake: socket hang up')), null);
    assert.equal(platformaticAuthFailure(new ResponseError(0, 9, { '/': [6, null] }, {})), null);
    assert.equal(platformaticAuthFailure('text'), null);
  });
});

describe('rememberingPartitioner', () => {
  const context = { metadata: undefined };
  it("gives the library's compatibilityPartitioner answer, asked once or many times", () => {
    const remembering = rememberingPartitioner(compatibilityPartitioner);
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (key) => {
        const bytes = Buffer.from(key);
        const message = { topic: 't', key };
        const expected = compatibilityPartitioner(message, bytes);
        assert.equal(remembering(message, bytes, context), expected);
        assert.equal(remembering(message, bytes, context), expected, 'remembered');
      }),
      { seed: 4716, numRuns: 3000 },
    );
  });

  it('hashes each key once, and leaves messages without a string key to the library', () => {
    let calls = 0;
    const counting: typeof compatibilityPartitioner = (m, k) => {
      calls += 1;
      return compatibilityPartitioner(m, k);
    };
    const p = rememberingPartitioner(counting);
    for (let i = 0; i < 1000; i++) {
      const key = `org-${i % 10}`;
      p({ topic: i % 2 === 0 ? 'cdr' : 'cdr.dlq', key }, Buffer.from(key), context);
    }
    assert.equal(calls, 10);
    p({ topic: 't' }, undefined, context);
    p({ topic: 't' }, undefined, context);
    assert.equal(calls, 12);
  });
});
