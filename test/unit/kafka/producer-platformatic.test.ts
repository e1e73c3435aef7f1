import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CdrError } from '../../../src/errors.ts';
import {
  platformaticAuthFailure,
  platformaticOptions,
} from '../../../src/kafka/producer-platformatic.ts';

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
  it('finds a refused authentication wrapped in other errors', () => {
    const auth = Object.assign(new Error('SASL authentication failed'), {
      name: 'AuthenticationError',
    });
    const wrapped = new AggregateError(
      [new Error('other'), new Error('outer', { cause: auth })],
      'x',
    );
    const e = platformaticAuthFailure(wrapped);
    assert.ok(e instanceof CdrError);
    assert.equal(e.code, 'auth_failed');
    assert.match(e.message, /KAFKA_SASL_PASSWORD/);
  });

  it('leaves other errors alone', () => {
    assert.equal(platformaticAuthFailure(new Error('connect ECONNREFUSED')), null);
    assert.equal(platformaticAuthFailure('text'), null);
  });
});
