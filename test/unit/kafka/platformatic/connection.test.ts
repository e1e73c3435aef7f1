import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ResponseError,
} from '@platformatic/kafka';
import { CdrError } from '../../../../src/errors.ts';
import {
  platformaticAuthFailure,
  platformaticOptions,
} from '../../../../src/kafka/platformatic/connection.ts';

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

  it('passes our own auth_failed on and no other coded error', () => {
    const ours = new CdrError('auth_failed', 'refused');
    assert.equal(platformaticAuthFailure(ours), ours);
    assert.equal(platformaticAuthFailure(new CdrError('kafka_timeout', 'slow')), null);
  });
});
