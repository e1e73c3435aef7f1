import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prepareBatch } from '../../../src/cdr/batch.ts';
import { FIELDS } from '../../../src/cdr/fields.ts';
import { createPrivacy } from '../../../src/cdr/privacy.ts';
import { privacyEnv, privacyProblems, toPrivacy } from '../../../src/cdr/privacy-env.ts';
import { rawHash } from '../../../src/kafka/messages.ts';
import { parseIngressConfig } from '../../../src/settings.ts';
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

describe('privacy on extra_fields keys (extra:<key>)', () => {
  it('parses extra: entries by the key matcher and refuses empty keys and schema fields', () => {
    const parsed = privacyEnv.parse({
      PRIVACY_DROP_FIELDS: 'user,extra:Customer Phone',
      PRIVACY_HASH_FIELDS: 'extra:caller_email',
      PRIVACY_HASH_KEY: KEY,
    });
    assert.deepEqual(parsed.PRIVACY_DROP_FIELDS, ['user', 'extra:customerphone']);
    assert.deepEqual(parsed.PRIVACY_HASH_FIELDS, ['extra:calleremail']);
    const bad = parseIngressConfig({
      ...INGRESS_ENV,
      PRIVACY_DROP_FIELDS: 'extra:,extra:Calling number,Customer Phone',
    });
    const problems = bad.ok ? '' : bad.problems.join('\n');
    assert.match(problems, /"extra:" names no key/);
    assert.match(problems, /"extra:Calling number" is the schema field calling_number/);
    // a name that is neither a field nor marked extra: is still a typo, refused
    assert.match(problems, /unknown field\(s\) "Customer Phone"; .* or extra:<Webex key>/);
  });

  it('drops and hashes keys the schema does not know, in records and dead letters', () => {
    const privacy = toPrivacy(
      privacyEnv.parse({
        PRIVACY_DROP_FIELDS: 'extra:Customer phone',
        PRIVACY_HASH_FIELDS: 'extra:Caller email',
        PRIVACY_HASH_KEY: KEY,
      }),
    );
    assert.ok(privacy);
    const raw = fullRawCdr({
      'Customer phone': '+4733333333',
      'caller email': 'kari@example.com',
      'Other key': 'kept',
    });
    const record = prepareBatch([raw], INGEST, privacy).records[0]?.record;
    assert.deepEqual(
      { ...record?.extra_fields },
      { 'caller email': hmac('kari@example.com'), 'Other key': 'kept' },
    );
    const dead = prepareBatch([{ ...raw, 'Report ID': '' }], INGEST, privacy).dead[0]?.raw;
    const letter = dead as Record<string, unknown>;
    assert.equal('Customer phone' in letter, false);
    assert.equal(letter['caller email'], hmac('kari@example.com'));
    assert.equal(letter['Other key'], 'kept');
    assert.equal(privacy.header, 'drop;extra=customerphone hmac-sha256:v1;extra=calleremail');
  });
});

describe('privacy allow-list mode (PRIVACY_ALLOW_FIELDS)', () => {
  const allowPrivacy = () => {
    const privacy = toPrivacy(
      privacyEnv.parse({
        PRIVACY_ALLOW_FIELDS: 'call_type,Duration,start_time,calling_number,extra:Queue name',
        PRIVACY_HASH_FIELDS: 'calling_number',
        PRIVACY_HASH_KEY: KEY,
      }),
    );
    assert.ok(privacy);
    return privacy;
  };

  it('publishes only the listed fields and the keys; every other field null, every other extra left out', () => {
    const raw = fullRawCdr({
      'Queue name': 'Support',
      'Brand new key': 'not listed',
      'Call type': 'SIP_ENTERPRISE',
      'call type': 'second spelling',
      Duration: 'lots',
      'Duration ': '12',
    });
    const record = prepareBatch([raw], INGEST, allowPrivacy()).records[0]?.record;
    assert.ok(record);
    const kept = ['report_id', 'org_uuid', 'call_type', 'duration', 'start_time', 'calling_number'];
    for (const f of FIELDS) {
      if (kept.includes(f.name)) assert.notEqual(record[f.name], null, f.name);
      else assert.equal(record[f.name], null, `${f.name} is not allowed`);
    }
    assert.equal(
      record.calling_number,
      hmac(String(raw['Calling number'])),
      'hashing still applies',
    );
    assert.equal(record.duration, 12);
    // extra_fields: the listed key, and the raw text of allowed fields; nothing else
    assert.deepEqual(
      { ...record.extra_fields },
      { 'Queue name': 'Support', 'call type': 'second spelling', Duration: 'lots' },
    );
    assert.deepEqual({ ...record.ingest }, { ...INGEST });
  });

  it('leaves out a key Webex adds later, and applies the same rule to dead letters', () => {
    const raw = fullRawCdr({ 'Report ID': '', 'Added next year': 'secret', 'Queue name': 'q' });
    const letter = prepareBatch([raw], INGEST, allowPrivacy()).dead[0]?.raw as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(letter).sort(), [
      'Call type',
      'Calling number',
      'Duration',
      'Org UUID',
      'Queue name',
      'Report ID',
      'Start time',
    ]);
    assert.equal(letter['Calling number'], hmac(String(raw['Calling number'])));
  });

  it('names the allowed fields in the header', () => {
    assert.equal(
      allowPrivacy().header,
      'allow;fields=report_id,org_uuid,call_type,duration,start_time,calling_number;extra=queuename hmac-sha256:v1;fields=calling_number',
    );
  });

  it('refuses drop with allow, and a hashed field that is not allowed', () => {
    assert.deepEqual(
      privacyProblems({
        PRIVACY_ALLOW_FIELDS: 'call_type,report_id',
        PRIVACY_DROP_FIELDS: 'user',
        PRIVACY_HASH_FIELDS: 'calling_number',
        PRIVACY_HASH_KEY: KEY,
      }),
      [
        'PRIVACY_DROP_FIELDS/PRIVACY_ALLOW_FIELDS: set one, not both (in allow-list mode every field not listed is dropped)',
        'PRIVACY_HASH_FIELDS/PRIVACY_ALLOW_FIELDS: calling_number hashed but not allowed (add to PRIVACY_ALLOW_FIELDS to publish the hash)',
      ],
    );
    const parsed = parseIngressConfig({ ...INGRESS_ENV, PRIVACY_ALLOW_FIELDS: 'call_typ' });
    assert.match(parsed.ok ? '' : parsed.problems.join('\n'), /unknown field\(s\) "call_typ"/);
    // only the keys listed: allow-list mode with nothing but the keys
    const keysOnly = parseIngressConfig({ ...INGRESS_ENV, PRIVACY_ALLOW_FIELDS: 'report_id' });
    assert.ok(keysOnly.ok);
    const record = prepareBatch([fullRawCdr()], INGEST, keysOnly.config.privacy).records[0]?.record;
    assert.equal(record?.call_type, null);
    assert.equal(record?.report_id, 'report-1');
  });
});
