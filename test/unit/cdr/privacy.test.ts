import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prepareBatch } from '../../../src/cdr/batch.ts';
import { createPrivacy, privacyEnv, privacyProblems, toPrivacy } from '../../../src/cdr/privacy.ts';
import { parseIngressConfig } from '../../../src/config.ts';
import { rawHash } from '../../../src/kafka/messages.ts';
import { fullRawCdr, INGEST } from '../../helpers/fixtures.ts';

const KEY = 'a-sixteen-byte-key-or-longer';
const hmac = (v: string) => createHmac('sha256', KEY).update(v).digest('hex');

const INGRESS_ENV = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
  CDR_FEED: 'analytics',
  WEBHOOK_SECRETS: 's',
};

describe('privacy settings', () => {
  it('accepts Avro names and Webex spellings, and is off when nothing is listed', () => {
    const parsed = privacyEnv.parse({
      PRIVACY_DROP_FIELDS: 'User, public_calling_ip_address',
      PRIVACY_HASH_FIELDS: 'Calling number,called_number',
      PRIVACY_HASH_KEY: KEY,
    });
    assert.deepEqual(parsed.PRIVACY_DROP_FIELDS, ['user', 'public_calling_ip_address']);
    assert.deepEqual(parsed.PRIVACY_HASH_FIELDS, ['calling_number', 'called_number']);
    assert.equal(toPrivacy(privacyEnv.parse({})), null);
  });

  it('lists unknown names with the valid ones, and refuses keys, non-text hashing and a missing key', () => {
    const parsed = parseIngressConfig({
      ...INGRESS_ENV,
      PRIVACY_DROP_FIELDS: 'user,callng_number,report_id',
      PRIVACY_HASH_FIELDS: 'duration,user',
    });
    assert.equal(parsed.ok, false);
    const problems = parsed.ok ? '' : parsed.problems.join('\n');
    assert.match(
      problems,
      /PRIVACY_DROP_FIELDS: unknown field\(s\) "callng_number"; valid names: answer_indicator, /,
    );
    assert.match(problems, /calling_number/);
    assert.match(problems, /report_id is the record's key and cannot be dropped/);
    assert.match(problems, /duration is a long field: only text fields can be hashed/);
    // cross-variable rules run on the raw values too
    assert.deepEqual(
      privacyProblems({ PRIVACY_DROP_FIELDS: 'user', PRIVACY_HASH_FIELDS: 'user' }),
      [
        'PRIVACY_DROP_FIELDS/PRIVACY_HASH_FIELDS: user listed in both',
        'PRIVACY_HASH_KEY: required when PRIVACY_HASH_FIELDS is set (or PRIVACY_HASH_KEY_FILE)',
      ],
    );
    assert.match(
      privacyProblems({ PRIVACY_HASH_FIELDS: 'user', PRIVACY_HASH_KEY: 'short' }).join(),
      /at least 16 bytes/,
    );
  });

  it('reads the key from PRIVACY_HASH_KEY_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privacy-'));
    const file = join(dir, 'key');
    writeFileSync(file, `${KEY}\n`);
    const parsed = parseIngressConfig({
      ...INGRESS_ENV,
      PRIVACY_HASH_FIELDS: 'user_number',
      PRIVACY_HASH_KEY_FILE: file,
    });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problems.join('; '));
    const record = prepareBatch([fullRawCdr()], INGEST, parsed.config.privacy).records[0]?.record;
    assert.equal(record?.user_number, hmac(String(fullRawCdr()['User number'])));
    const missing = parseIngressConfig({
      ...INGRESS_ENV,
      PRIVACY_HASH_FIELDS: 'user_number',
      PRIVACY_HASH_KEY_FILE: join(dir, 'nope'),
    });
    assert.deepEqual(missing.ok ? [] : missing.problems, [
      `PRIVACY_HASH_KEY_FILE: cannot read ${join(dir, 'nope')} (ENOENT)`,
      'PRIVACY_HASH_KEY: required when PRIVACY_HASH_FIELDS is set (or PRIVACY_HASH_KEY_FILE)',
    ]);
  });
});

describe('privacy on records', () => {
  const privacy = createPrivacy({
    drop: ['user', 'public_calling_ip_address'],
    hash: ['calling_number', 'called_number'],
    key: KEY,
  });

  it('drops and hashes fields after normalisation; joins still work; others untouched', () => {
    const a = fullRawCdr({ 'Report ID': 'a', 'Calling number': '+4799999999' });
    const b = fullRawCdr({ 'Report ID': 'b', 'Called number': '+4799999999' });
    const batch = prepareBatch([a, b], INGEST, privacy);
    const [ra, rb] = batch.records.map((r) => r.record);
    assert.equal(ra?.user, null);
    assert.equal(ra?.public_calling_ip_address, null);
    assert.equal(ra?.calling_number, hmac('+4799999999'));
    assert.equal(rb?.called_number, ra?.calling_number, 'the same number gives the same hash');
    assert.match(String(ra?.called_number), /^[0-9a-f]{64}$/);
    assert.equal(ra?.report_id, 'a');
    assert.equal(ra?.call_type, 'SIP_ENTERPRISE');
    const unprotected = prepareBatch([a], INGEST).records[0]?.record;
    assert.equal(unprotected?.calling_number, '+4799999999');
  });

  it('covers extra_fields spellings of those fields, and dead letters', () => {
    const raw = fullRawCdr({ 'Report ID': 'x', calling_number: '+4711111111', User: 'Kari' });
    const record = prepareBatch([raw], INGEST, privacy).records[0]?.record;
    const text = JSON.stringify(record);
    assert.equal(text.includes('+4711111111'), false, text);
    assert.equal(record?.extra_fields.calling_number, hmac('+4711111111'));
    // a record that cannot be published: its raw copy is transformed too
    const dead = fullRawCdr({ 'Report ID': '', 'Calling number': '+4722222222', User: 'Kari' });
    const batch = prepareBatch([dead], INGEST, privacy);
    assert.equal(batch.dead.length, 1);
    const letter = batch.dead[0]?.raw as Record<string, unknown>;
    assert.equal(letter['Calling number'], hmac('+4722222222'));
    assert.equal('User' in letter, false);
    assert.equal(JSON.stringify(letter).includes('Kari'), false);
    // the same input gives the same letter: the reconciler's dead-letter dedup still holds
    assert.equal(rawHash(letter), rawHash(prepareBatch([dead], INGEST, privacy).dead[0]?.raw));
  });

  it('keeps a __proto__ key as data in a dead letter copy', () => {
    const raw = JSON.parse('{"__proto__": {"polluted": 1}, "User": "Kari"}') as unknown;
    const copy = privacy.protectRaw(raw) as Record<string, unknown>;
    assert.equal(Object.keys(copy).includes('__proto__'), true);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('names what it did in a header value', () => {
    assert.equal(
      privacy.header,
      'drop;fields=user,public_calling_ip_address hmac-sha256:v1;fields=calling_number,called_number',
    );
  });
});
