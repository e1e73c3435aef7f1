import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectionOptions } from '../../src/kafka/kafkajs/client.ts';
import { editDistance } from '../../src/setting-names.ts';
import {
  checkConfig,
  type IngressConfig,
  parseIngressConfig,
  parseKafkaConfig,
  parseReconcilerConfig,
  SETTING_NAMES,
  SETTINGS,
} from '../../src/settings.ts';

const BASE = {
  KAFKA_BROKERS: 'localhost:9092',
  SCHEMA_REGISTRY_URL: 'http://localhost:8081',
  CDR_FEED: 'analytics',
  WEBHOOK_SECRETS: 'secret-1',
};

const config = (env: NodeJS.ProcessEnv): IngressConfig => {
  const r = parseIngressConfig(env);
  if (!r.ok) assert.fail(`expected a config, got: ${r.problems.join('; ')}`);
  return r.config;
};

const problems = (env: NodeJS.ProcessEnv): string[] => {
  const r = parseIngressConfig(env);
  if (r.ok) assert.fail('expected problems');
  return r.problems;
};

/** Each of `starts` begins one of the problems in `list`. */
const assertStartsOf = (list: string[], starts: readonly string[]) => {
  for (const start of starts) {
    assert.ok(
      list.some((p) => p.startsWith(start)),
      `${start} in ${JSON.stringify(list)}`,
    );
  }
};

const mentions = (list: string[], name: string) =>
  list.some((p) => p.startsWith(`${name}:`) || p.startsWith(`${name}.`));

describe('parseIngressConfig', () => {
  it('applies the defaults', () => {
    const c = config(BASE);
    assert.equal(c.topic, 'webex.calling.cdr');
    assert.equal(c.dlqTopic, 'webex.calling.cdr.dlq');
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.path, '/webhooks/cdr');
    assert.equal(c.feed, 'analytics');
    assert.equal(c.acceptSha256, false);
    assert.equal(c.insecureNoSignature, false);
    assert.deepEqual(c.contentTypes, ['application/json', 'application/*+json']);
    assert.equal(c.maxBodyBytes, 256 * 1024 * 1024);
    assert.equal(c.maxDecodedBytes, 256 * 1024 * 1024);
    assert.equal(c.ackTimeoutMs, 10_000);
    assert.equal(c.retryAfterSeconds, 30);
    assert.deepEqual(c.brokers, ['localhost:9092']);
    assert.equal(c.keepAliveTimeoutMs, 65_000);
    assert.equal(c.compression, 'none');
    assert.equal(c.startupTimeoutMs, 60_000, 'STARTUP_TIMEOUT is shared with the ingress');
  });

  it('takes KAFKA_COMPRESSION none, gzip or zstd, and names it when it is anything else', () => {
    for (const codec of ['none', 'gzip', 'zstd'] as const) {
      assert.equal(config({ ...BASE, KAFKA_COMPRESSION: codec }).compression, codec);
    }
    assert.ok(mentions(problems({ ...BASE, KAFKA_COMPRESSION: 'lz4' }), 'KAFKA_COMPRESSION'));
  });

  it('derives the dead-letter topic from CDR_TOPIC unless CDR_DLQ_TOPIC is set', () => {
    assert.equal(config({ ...BASE, CDR_TOPIC: 'cdrs' }).dlqTopic, 'cdrs.dlq');
    assert.equal(config({ ...BASE, CDR_TOPIC: 'cdrs', CDR_DLQ_TOPIC: 'dead' }).dlqTopic, 'dead');
  });

  it('splits WEBHOOK_SECRETS on commas, trimming and dropping empties', () => {
    assert.deepEqual(config({ ...BASE, WEBHOOK_SECRETS: ' s1 , s2,,s3 ' }).secrets, [
      's1',
      's2',
      's3',
    ]);
    assert.deepEqual(config(BASE).secrets, ['secret-1']);
  });

  it('splits KAFKA_BROKERS on commas', () => {
    assert.deepEqual(config({ ...BASE, KAFKA_BROKERS: 'a:9092, b:9093' }).brokers, [
      'a:9092',
      'b:9093',
    ]);
  });

  it('reads numbers and booleans', () => {
    const c = config({
      ...BASE,
      PORT: '9000',
      WEBHOOK_ACCEPT_SHA256: 'true',
      MAX_BODY_BYTES: '1024',
      CDR_FEED: 'billing',
    });
    assert.equal(c.port, 9000);
    assert.equal(c.acceptSha256, true);
    assert.equal(c.maxBodyBytes, 1024);
    assert.equal(c.feed, 'billing');
  });

  it('treats an empty variable as unset', () => {
    const c = config({ ...BASE, PORT: '', CDR_TOPIC: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.topic, 'webex.calling.cdr');
  });

  it('requires secrets unless WEBHOOK_INSECURE_NO_SIGNATURE is set', () => {
    const { WEBHOOK_SECRETS: _, ...noSecrets } = BASE;
    assert.ok(mentions(problems(noSecrets), 'WEBHOOK_SECRETS'));
    assert.ok(mentions(problems({ ...noSecrets, WEBHOOK_SECRETS: ' , ' }), 'WEBHOOK_SECRETS'));
    assert.ok(
      mentions(
        problems({ ...noSecrets, WEBHOOK_INSECURE_NO_SIGNATURE: 'false' }),
        'WEBHOOK_SECRETS',
      ),
    );
    const insecure = config({ ...noSecrets, WEBHOOK_INSECURE_NO_SIGNATURE: 'true' });
    assert.deepEqual(insecure.secrets, []);
    assert.equal(insecure.insecureNoSignature, true);
  });

  it('lists every problem at once', () => {
    const list = problems({
      KAFKA_BROKERS: 'no-port',
      SCHEMA_REGISTRY_URL: 'ftp://registry',
      CDR_FEED: 'both',
      PORT: '70000',
      CDR_TOPIC: 'bad topic!',
      WEBHOOK_PATH: 'no-slash',
      WEBHOOK_ACCEPT_SHA256: 'maybe',
      ACK_TIMEOUT_MS: '0',
      WEBHOOK_SECRETS: 's',
    });
    for (const name of [
      'KAFKA_BROKERS',
      'SCHEMA_REGISTRY_URL',
      'CDR_FEED',
      'PORT',
      'CDR_TOPIC',
      'WEBHOOK_PATH',
      'WEBHOOK_ACCEPT_SHA256',
      'ACK_TIMEOUT_MS',
    ]) {
      assert.ok(mentions(list, name), `${name} missing from ${JSON.stringify(list)}`);
    }
  });

  it('names every missing required variable', () => {
    const list = problems({ WEBHOOK_SECRETS: 's' });
    for (const name of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'CDR_FEED']) {
      assert.ok(mentions(list, name), `${name} missing from ${JSON.stringify(list)}`);
    }
  });

  it('requires SASL credentials with a SASL mechanism', () => {
    const list = problems({ ...BASE, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' });
    assert.ok(list.some((p) => p.includes('KAFKA_SASL_PASSWORD')));
    const ok = config({
      ...BASE,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    assert.deepEqual(ok.sasl, { mechanism: 'plain', username: 'u', password: 'p' });
  });

  it('never puts a secret value into a problem', () => {
    const list = problems({ ...BASE, WEBHOOK_SECRETS: 'very-secret-value', PORT: 'x' });
    assert.equal(JSON.stringify(list).includes('very-secret-value'), false);
  });

  it('lists cross-variable problems together with the others (empty environment)', () => {
    const list = problems({});
    assertStartsOf(list, ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'CDR_FEED', 'WEBHOOK_SECRETS']);
  });
});

describe('parseReconcilerConfig', () => {
  const env = {
    KAFKA_BROKERS: '127.0.0.1:9092',
    SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
    CDR_FEED: 'billing',
  };

  it('has the documented defaults', () => {
    const r = parseReconcilerConfig({ ...env, WEBEX_ACCESS_TOKEN: 't' });
    assert.ok(r.ok);
    assert.equal(r.config.webex.baseUrl, 'https://analytics.webexapis.com');
    assert.equal(r.config.intervalMs, 12 * 3_600_000);
    assert.equal(r.config.lookbackMs, 48 * 3_600_000);
    assert.equal(r.config.settleMs, 15 * 60_000);
    assert.equal(r.config.auditTopic, 'webex.calling.cdr.reconciliation');
    assert.deepEqual(r.config.webex.auth, { kind: 'static', token: 't' });
    assert.equal(r.config.windowsPerPass, 49);
    assert.equal(r.config.webex.timeoutMs, 30_000);
    assert.equal(r.config.publishTimeoutMs, 60_000);
    assert.equal(r.config.refreshTokenFile, undefined);
    assert.equal(r.config.startupTimeoutMs, 60_000);
  });

  const problemsOf = (extra: Record<string, string>) => {
    const r = parseReconcilerConfig({ ...env, WEBEX_ACCESS_TOKEN: 't', ...extra });
    return r.ok ? [] : r.problems;
  };

  it('WEBEX_REDIRECT_HOSTS: Webex API hosts by default, a list of host patterns, each bad one named', () => {
    const r = parseReconcilerConfig({ ...env, WEBEX_ACCESS_TOKEN: 't' });
    assert.ok(r.ok);
    assert.deepEqual(r.config.webex.redirectHosts, ['*.webexapis.com']);
    const set = parseReconcilerConfig({
      ...env,
      WEBEX_ACCESS_TOKEN: 't',
      WEBEX_REDIRECT_HOSTS: '*.webexapis.com, http://127.0.0.1:9001',
    });
    assert.ok(set.ok);
    assert.deepEqual(set.config.webex.redirectHosts, ['*.webexapis.com', 'http://127.0.0.1:9001']);
    const problems = problemsOf({ WEBEX_REDIRECT_HOSTS: '*.com,ftp://x.example.com' });
    assert.equal(problems.length, 1, problems.join('; '));
    assert.match(
      problems[0] ?? '',
      /^WEBEX_REDIRECT_HOSTS: "\*\.com": .*; "ftp:\/\/x\.example\.com": only https/,
    );
  });

  it('bounds timeouts and the interval (Node cannot wait longer than about 24.8 days)', () => {
    for (const [name, value, message] of [
      ['WEBEX_TIMEOUT', '0ms', /at least 1s/],
      ['WEBEX_TIMEOUT', '999ms', /at least 1s/],
      ['WEBEX_TIMEOUT', '1d', /at most 10m/],
      ['PUBLISH_TIMEOUT', '500ms', /at least 1s/],
      ['PUBLISH_TIMEOUT', '2h', /at most 1h/],
      ['RECONCILE_INTERVAL', '59s', /at least 1m/],
      ['RECONCILE_INTERVAL', '25d', /at most 24d/],
      ['WEBEX_MIN_REQUEST_INTERVAL', '30d', /at most 1h/],
      ['RECONCILE_WINDOWS_PER_PASS', '0', /./],
      ['STARTUP_TIMEOUT', '500ms', /at least 1s/],
      ['STARTUP_TIMEOUT', '2h', /at most 1h/],
      ['STARTUP_TIMEOUT', 'soon', /./],
    ] as const) {
      const list = problemsOf({ [name]: value });
      assert.ok(
        list.some((p) => p.startsWith(name) && message.test(p)),
        `${name}=${value}: ${JSON.stringify(list)}`,
      );
    }
    for (const [name, value] of [
      ['WEBEX_TIMEOUT', '1s'],
      ['PUBLISH_TIMEOUT', '1s'],
      ['RECONCILE_INTERVAL', '1m'],
      ['RECONCILE_INTERVAL', '24d'],
      ['RECONCILE_WINDOWS_PER_PASS', '1'],
      ['STARTUP_TIMEOUT', '1s'],
      ['STARTUP_TIMEOUT', '1h'],
    ] as const) {
      assert.deepEqual(problemsOf({ [name]: value }), [], `${name}=${value}`);
    }
  });

  it('says that RECONCILE_MAX_IDS_PER_PASS is gone rather than ignoring it', () => {
    assert.ok(
      problemsOf({ RECONCILE_MAX_IDS_PER_PASS: '100' }).some((p) =>
        p.startsWith('RECONCILE_MAX_IDS_PER_PASS'),
      ),
    );
  });

  it('reads the OAuth refresh token from WEBEX_REFRESH_TOKEN_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-refresh-'));
    try {
      const path = join(dir, 'refresh');
      writeFileSync(path, 'refresh-from-file\n');
      const oauth = { ...env, WEBEX_CLIENT_ID: 'id', WEBEX_CLIENT_SECRET: 'secret' };
      const r = parseReconcilerConfig({ ...oauth, WEBEX_REFRESH_TOKEN_FILE: path });
      assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
      assert.equal(r.config.webex.auth.kind, 'oauth');
      assert.equal(
        r.config.webex.auth.kind === 'oauth' ? r.config.webex.auth.refreshToken : '',
        'refresh-from-file',
      );
      assert.equal(r.config.refreshTokenFile, path);

      const both = parseReconcilerConfig({
        ...oauth,
        WEBEX_REFRESH_TOKEN: 'r',
        WEBEX_REFRESH_TOKEN_FILE: path,
      });
      assert.ok(!both.ok && both.problems.some((p) => /not both/.test(p)));

      const missing = parseReconcilerConfig({
        ...oauth,
        WEBEX_REFRESH_TOKEN_FILE: join(dir, 'nope'),
        RECONCILE_INTERVAL: 'soon',
      });
      assert.ok(!missing.ok);
      assert.ok(
        missing.problems.some((p) => p.startsWith('WEBEX_REFRESH_TOKEN_FILE: cannot read')),
      );
      assert.ok(
        missing.problems.some((p) => p.startsWith('RECONCILE_INTERVAL')),
        'all at once',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('picks the OAuth refresh flow when its three variables are set', () => {
    const r = parseReconcilerConfig({
      ...env,
      WEBEX_CLIENT_ID: 'id',
      WEBEX_CLIENT_SECRET: 'secret',
      WEBEX_REFRESH_TOKEN: 'refresh',
    });
    assert.ok(r.ok);
    assert.equal(r.config.webex.auth.kind, 'oauth');
  });

  it('lists every problem: no token, lookback over 30 days, settle under 5 minutes, bad duration', () => {
    const r = parseReconcilerConfig({
      ...env,
      RECONCILE_LOOKBACK: '31d',
      RECONCILE_SETTLE: '1m',
      RECONCILE_INTERVAL: 'soon',
    });
    assert.equal(r.ok, false);
    const list = r.ok ? [] : r.problems;
    assertStartsOf(list, [
      'RECONCILE_LOOKBACK',
      'RECONCILE_SETTLE',
      'RECONCILE_INTERVAL',
      'WEBEX_ACCESS_TOKEN',
    ]);
  });
});

/** A temporary directory with the given files; removed after `fn`. */
const withFiles = (files: Record<string, string>, fn: (path: (name: string) => string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'config-files-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    fn((name) => join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIB-ca\n-----END CERTIFICATE-----\n';
const FAKE_CERT = '-----BEGIN CERTIFICATE-----\nMIIB-client\n-----END CERTIFICATE-----\n';
const FAKE_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE-key\n-----END PRIVATE KEY-----\n';

describe('CONFIG_FILE', () => {
  it('reads a JSON object of settings; the environment wins over it', () => {
    withFiles(
      {
        'c.json': JSON.stringify({
          ...BASE,
          WEBHOOK_SECRETS: ['s1', 's2'],
          PORT: 9000,
          WEBHOOK_ACCEPT_SHA256: true,
          CDR_TOPIC: 'from-file',
        }),
      },
      (path) => {
        const c = config({ CONFIG_FILE: path('c.json'), PORT: '9100' });
        assert.equal(c.port, 9100, 'environment over file');
        assert.equal(c.topic, 'from-file');
        assert.deepEqual(c.secrets, ['s1', 's2']);
        assert.equal(c.acceptSha256, true);
        assert.deepEqual(c.brokers, ['localhost:9092']);
      },
    );
  });

  it('a name set in the environment hides its _FILE twin in the file, and the other way round', () => {
    withFiles(
      {
        pw: 'from-secret-file\n',
        'c.json': JSON.stringify({
          ...BASE,
          KAFKA_SASL_MECHANISM: 'plain',
          KAFKA_SASL_USERNAME: 'u',
          KAFKA_SASL_PASSWORD: 'from-config-file',
        }),
      },
      (path) => {
        const c = config({ CONFIG_FILE: path('c.json'), KAFKA_SASL_PASSWORD_FILE: path('pw') });
        assert.equal(c.sasl?.password, 'from-secret-file');
        const d = config({ CONFIG_FILE: path('c.json') });
        assert.equal(d.sasl?.password, 'from-config-file');
      },
    );
  });

  it('refuses unknown names, non-JSON and non-objects, listing them with the other problems', () => {
    withFiles(
      {
        'typo.json': JSON.stringify({ ...BASE, KAFKA_BROKER: 'x:1', PORT: { n: 1 } }),
        'bad.json': '{ not json',
        'array.json': '[]',
      },
      (path) => {
        const list = problems({ CONFIG_FILE: path('typo.json'), ACK_TIMEOUT_MS: '0' });
        assert.ok(mentions(list, 'KAFKA_BROKER'), JSON.stringify(list));
        assert.ok(mentions(list, 'PORT'), JSON.stringify(list));
        assert.ok(mentions(list, 'ACK_TIMEOUT_MS'), 'all at once');
        assert.ok(mentions(problems({ ...BASE, CONFIG_FILE: path('bad.json') }), 'CONFIG_FILE'));
        assert.ok(mentions(problems({ ...BASE, CONFIG_FILE: path('array.json') }), 'CONFIG_FILE'));
        assert.ok(
          mentions(problems({ ...BASE, CONFIG_FILE: path('missing.json') }), 'CONFIG_FILE'),
        );
      },
    );
  });
});

describe('<NAME>_FILE', () => {
  it('reads a secret from a file, trimming one trailing newline', () => {
    withFiles({ secrets: 'a, b\n', pw: 'p w\n\n', token: 'tok\r\n' }, (path) => {
      const { WEBHOOK_SECRETS: _, ...rest } = BASE;
      const c = config({
        ...rest,
        WEBHOOK_SECRETS_FILE: path('secrets'),
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: path('pw'),
        SCHEMA_REGISTRY_TOKEN_FILE: path('token'),
      });
      assert.deepEqual(c.secrets, ['a', 'b']);
      assert.equal(c.sasl?.password, 'p w\n', 'only one newline is trimmed');
      assert.equal(c.registry.token, 'tok');
    });
  });

  it('both the value and its _FILE set, or an unreadable file: problems, all at once', () => {
    withFiles({ pw: 'p' }, (path) => {
      const list = problems({
        ...BASE,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_PASSWORD_FILE: path('pw'),
        SCHEMA_REGISTRY_USERNAME: 'r',
        SCHEMA_REGISTRY_PASSWORD_FILE: path('nope'),
        PORT: 'x',
      });
      assert.ok(list.some((p) => p.startsWith('KAFKA_SASL_PASSWORD/KAFKA_SASL_PASSWORD_FILE')));
      assert.ok(list.some((p) => p.startsWith('SCHEMA_REGISTRY_PASSWORD_FILE: cannot read')));
      assert.ok(mentions(list, 'PORT'));
    });
  });

  it('WEBEX_CLIENT_SECRET_FILE feeds the OAuth flow; both access token forms is a problem', () => {
    withFiles({ cs: 'client-secret\n' }, (path) => {
      const env = { KAFKA_BROKERS: 'k:1', SCHEMA_REGISTRY_URL: 'http://r:1', CDR_FEED: 'billing' };
      const r = parseReconcilerConfig({
        ...env,
        WEBEX_CLIENT_ID: 'id',
        WEBEX_CLIENT_SECRET_FILE: path('cs'),
        WEBEX_REFRESH_TOKEN: 'rt',
      });
      assert.ok(r.ok, r.ok ? '' : r.problems.join('; '));
      assert.equal(
        r.config.webex.auth.kind === 'oauth' ? r.config.webex.auth.clientSecret : '',
        'client-secret',
      );
      const both = parseReconcilerConfig({
        ...env,
        WEBEX_ACCESS_TOKEN: 't',
        WEBEX_ACCESS_TOKEN_FILE: path('cs'),
      });
      assert.ok(!both.ok && both.problems.some((p) => p.includes('not both')));
    });
  });
});

describe('checkConfig', () => {
  it('shows every setting with its source, secrets as ***', () => {
    withFiles({ pw: 'sasl-secret-value\n' }, (path) => {
      const report = checkConfig('ingress', {
        ...BASE,
        WEBHOOK_SECRETS: 'webhook-secret-value',
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: path('pw'),
        SCHEMA_REGISTRY_TOKEN: 'registry-token-value',
      });
      assert.equal(report.ok, true, report.problems.join('; '));
      const text = JSON.stringify(report);
      for (const secret of ['sasl-secret-value', 'webhook-secret-value', 'registry-token-value']) {
        assert.equal(text.includes(secret), false, `${secret} shown`);
      }
      const row = (name: string) => report.settings.find((s) => s.name === name);
      assert.deepEqual(row('KAFKA_SASL_PASSWORD'), {
        name: 'KAFKA_SASL_PASSWORD',
        value: '***',
        source: `KAFKA_SASL_PASSWORD_FILE ${path('pw')}`,
      });
      assert.equal(row('WEBHOOK_SECRETS')?.value, '***');
      assert.equal(row('SCHEMA_REGISTRY_TOKEN')?.value, '***');
      assert.deepEqual(row('KAFKA_BROKERS'), {
        name: 'KAFKA_BROKERS',
        value: 'localhost:9092',
        source: 'environment',
      });
      assert.deepEqual(row('PORT'), { name: 'PORT', value: '8080', source: 'default' });
      assert.equal(row('SCHEMA_REGISTRY_PASSWORD')?.value, '(not set)');
    });
  });

  it('shows durations in milliseconds for the reconciler, and lists every problem', () => {
    const ok = checkConfig('reconcile', { ...BASE, WEBEX_ACCESS_TOKEN: 'webex-token' });
    assert.equal(ok.ok, true, ok.problems.join('; '));
    assert.equal(ok.settings.find((s) => s.name === 'RECONCILE_INTERVAL')?.value, '43200000ms');
    assert.equal(ok.settings.find((s) => s.name === 'WEBEX_ACCESS_TOKEN')?.value, '***');
    const bad = checkConfig('reconcile', { PORT: 'x', RECONCILE_SETTLE: '1m' });
    assert.equal(bad.ok, false);
    for (const name of ['KAFKA_BROKERS', 'CDR_FEED', 'RECONCILE_SETTLE', 'WEBEX_ACCESS_TOKEN']) {
      assert.ok(mentions(bad.problems, name), `${name} in ${JSON.stringify(bad.problems)}`);
    }
  });
});

describe('Kafka TLS and registry settings', () => {
  it('the TLS files, servername and verification reach the kafkajs options', () => {
    withFiles({ ca: FAKE_CA, cert: FAKE_CERT, key: FAKE_KEY, kp: 'key-pass\n' }, (path) => {
      const c = config({
        ...BASE,
        KAFKA_SSL_CA_FILE: path('ca'),
        KAFKA_SSL_CERT_FILE: path('cert'),
        KAFKA_SSL_KEY_FILE: path('key'),
        KAFKA_SSL_KEY_PASSWORD_FILE: path('kp'),
        KAFKA_SSL_SERVERNAME: 'kafka.example.com',
        KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      });
      const options = connectionOptions(c);
      assert.deepEqual(options.ssl, {
        ca: FAKE_CA.replace(/\n$/, ''),
        cert: FAKE_CERT.replace(/\n$/, ''),
        key: FAKE_KEY.replace(/\n$/, ''),
        passphrase: 'key-pass',
        servername: 'kafka.example.com',
        rejectUnauthorized: false,
      });
      assert.deepEqual(options.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    });
    assert.equal(connectionOptions(config(BASE)).ssl, false);
    assert.deepEqual(connectionOptions(config({ ...BASE, KAFKA_SSL: 'true' })).ssl, {
      rejectUnauthorized: true,
    });
  });

  it('refuses contradictory TLS and registry settings', () => {
    const list = problems({
      ...BASE,
      KAFKA_SSL: 'false',
      KAFKA_SSL_CA: FAKE_CA,
      KAFKA_SSL_CERT: FAKE_CERT,
      SCHEMA_REGISTRY_TOKEN: 't',
      SCHEMA_REGISTRY_USERNAME: 'u',
      SCHEMA_REGISTRY_CA: 'not pem',
    });
    assertStartsOf(list, [
      'KAFKA_SSL:',
      'KAFKA_SSL_CERT/KAFKA_SSL_KEY',
      'SCHEMA_REGISTRY_TOKEN:',
      'SCHEMA_REGISTRY_CA:',
    ]);
    assert.equal(JSON.stringify(list).includes('MIIB'), false, 'no PEM text in problems');
  });

  it('passes registry credentials, token and CA on', () => {
    const c = config({
      ...BASE,
      SCHEMA_REGISTRY_URL: 'https://registry:8081',
      SCHEMA_REGISTRY_TOKEN: 'tok',
      SCHEMA_REGISTRY_CA: FAKE_CA,
    });
    assert.equal(c.registry.token, 'tok');
    assert.equal(c.registry.ca, FAKE_CA);
    assert.equal(c.registry.url, 'https://registry:8081');
  });
});

describe('unknown setting names', () => {
  const RECONCILE = { ...BASE, WEBEX_ACCESS_TOKEN: 'webex-token' };
  /** The problem naming `name`, for both processes and `config check` alike. */
  const refusal = (env: NodeJS.ProcessEnv, name: string): string => {
    const found: string[] = [];
    for (const r of [
      parseIngressConfig(env),
      parseReconcilerConfig({ ...RECONCILE, ...env }),
      parseKafkaConfig(env),
    ]) {
      assert.equal(r.ok, false, `${name} accepted`);
      if (r.ok) continue;
      const p = r.problems.find((x) => x.startsWith(`${name}:`));
      assert.ok(p !== undefined, `${name} not named in ${JSON.stringify(r.problems)}`);
      found.push(p);
    }
    const report = checkConfig('ingress', env);
    assert.equal(report.ok, false);
    assert.ok(report.problems.includes(found[0] ?? ''), JSON.stringify(report.problems));
    return found[0] ?? '';
  };

  it("refuses each typo of the issue, with the setting that was meant (they passed as 'valid')", () => {
    const typos = {
      PRIVACY_DROP_FEILDS: ['calling_number', 'PRIVACY_DROP_FIELDS'],
      PRIVACY_HASH_FIELD: ['calling_number', 'PRIVACY_HASH_FIELDS'],
      KAFKA_SASL_MECHANISMS: ['plain', 'KAFKA_SASL_MECHANISM'],
      WEBHOOK_ACCEPT_SHA265: ['true', 'WEBHOOK_ACCEPT_SHA256'],
    };
    for (const [name, [value, meant]] of Object.entries(typos)) {
      const p = refusal({ ...BASE, [name]: value }, name);
      assert.match(p, new RegExp(`did you mean ${meant}\\?`), p);
      assert.match(p, /IGNORE_ENV/, 'names the escape hatch');
    }
  });

  it('names WEBHOOK_SECRET (singular) beside the missing WEBHOOK_SECRETS', () => {
    const { WEBHOOK_SECRETS: _, ...noSecrets } = BASE;
    const list = problems({ ...noSecrets, WEBHOOK_SECRET: 'secret-1' });
    const p = list.find((x) => x.startsWith('WEBHOOK_SECRET:'));
    assert.ok(p?.includes('did you mean WEBHOOK_SECRETS?'), JSON.stringify(list));
    assert.ok(mentions(list, 'WEBHOOK_SECRETS'));
    assert.equal(p?.includes('secret-1'), false, 'never the value');
  });

  it('refuses near misses outside the prefixes, a _FILE form that does not exist, and retired names', () => {
    assert.match(refusal({ ...BASE, LOG_LEVL: 'debug' }, 'LOG_LEVL'), /did you mean LOG_LEVEL\?/);
    assert.match(refusal({ ...BASE, KAFAK_BROKERS: 'k:1' }, 'KAFAK_BROKERS'), /KAFKA_BROKERS\?/);
    assert.match(
      refusal({ ...BASE, REQUEST_TIMEOUT: '1' }, 'REQUEST_TIMEOUT'),
      /did you mean REQUEST_TIMEOUT_MS\?/,
    );
    assert.match(
      refusal({ ...BASE, MAX_BODY_SIZE: '1' }, 'MAX_BODY_SIZE'),
      /settings starting MAX_BODY_: MAX_BODY_BYTES/,
    );
    assert.match(
      refusal({ ...BASE, KAFKA_BROKERS_FILE: '/b' }, 'KAFKA_BROKERS_FILE'),
      /KAFKA_BROKERS cannot be given as a file/,
    );
    assert.match(refusal({ ...BASE, KAFKA_WHATEVER: 'x' }, 'KAFKA_WHATEVER'), /no setting/);
    assert.match(
      refusal({ ...BASE, RECONCILE_MAX_IDS_PER_PASS: '9' }, 'RECONCILE_MAX_IDS_PER_PASS'),
      /no longer used/,
    );
  });

  it('derives the prefixes from the names; the names from the schemas', () => {
    for (const p of ['WEBHOOK_', 'KAFKA_', 'SCHEMA_REGISTRY_', 'PRIVACY_', 'WEBEX_', 'CDR_']) {
      assert.ok(SETTING_NAMES.prefixes.includes(p), p);
    }
    for (const p of ['RECONCILE', 'INGRESS_', 'MAX_BODY_', 'SPOOL_', 'KEEP_ALIVE_']) {
      assert.ok(SETTING_NAMES.prefixes.includes(p), p);
    }
    for (const generic of ['PORT', 'HOST', 'LOG_', 'MAX_', 'SCHEMA_', 'CONFIG_', 'REQUEST_']) {
      assert.equal(SETTING_NAMES.prefixes.includes(generic), false, generic);
    }
    for (const which of ['ingress', 'reconcile'] as const) {
      for (const s of checkConfig(which, {}).settings) assert.ok(SETTINGS.includes(s.name), s.name);
    }
    for (const name of [
      'CONFIG_FILE',
      'IGNORE_ENV',
      'WEBHOOK_SECRETS_FILE',
      'PRIVACY_HASH_KEY_FILE',
    ]) {
      assert.ok(SETTINGS.includes(name), name);
    }
  });

  it("accepts the other process's settings: one environment is often shared", () => {
    config({ ...BASE, WEBEX_ACCESS_TOKEN: 'x', RECONCILE_INTERVAL: '1h', RECONCILER_PORT: '9464' });
    const r = parseReconcilerConfig({ ...RECONCILE, WEBHOOK_PATH: '/w', MAX_BODY_BYTES: '10' });
    assert.equal(r.ok, true, r.ok ? '' : r.problems.join('; '));
  });

  it("leaves other software's names alone: generic words, Node, the dev stack, Kafka's scripts", () => {
    const others = {
      PATH: '/usr/bin',
      HOME: '/home/node',
      HOSTNAME: 'ingress-7d9f',
      NODE_ENV: 'production',
      NODE_OPTIONS: '--max-old-space-size=512',
      YARN_VERSION: '1.22.22',
      LOG_FORMAT: 'json',
      MAX_WORKERS: '4',
      CONFIG_DIR: '/etc/app',
      SCHEMA_PATH: '/schemas',
      KEEP_ALIVE: '1',
      STACK_KAFKA_PORT: '31092',
      STACK_REGISTRY_PORT: '31081',
      STACK_DIR: '/tmp/stack',
      KAFKA_HOME: '/opt/kafka',
      KAFKA_HEAP_OPTS: '-Xmx1G',
      JAVA_HOME: '/usr/lib/jvm',
    };
    config({ ...BASE, ...others });
  });

  it('accepts the service links Kubernetes injects (Services kafka, schema-registry, webex-sim)', () => {
    const links = {
      KAFKA_PORT: 'tcp://10.0.0.1:9092',
      KAFKA_PORT_9092_TCP: 'tcp://10.0.0.1:9092',
      KAFKA_PORT_9092_TCP_PROTO: 'tcp',
      KAFKA_PORT_9092_TCP_PORT: '9092',
      KAFKA_PORT_9092_TCP_ADDR: '10.0.0.1',
      KAFKA_SERVICE_HOST: '10.0.0.1',
      KAFKA_SERVICE_PORT: '9092',
      KAFKA_SERVICE_PORT_BROKER: '9092',
      SCHEMA_REGISTRY_SERVICE_HOST: '10.0.0.2',
      SCHEMA_REGISTRY_SERVICE_PORT: '8081',
      SCHEMA_REGISTRY_PORT: 'tcp://10.0.0.2:8081',
      SCHEMA_REGISTRY_PORT_8081_TCP: 'tcp://10.0.0.2:8081',
      SCHEMA_REGISTRY_PORT_8081_TCP_ADDR: '10.0.0.2',
      WEBEX_SIM_SERVICE_HOST: 'fd00::12',
      WEBEX_SIM_PORT_8443_UDP_PROTO: 'udp',
    };
    config({ ...BASE, ...links });
    // The shapes are matched precisely, values included: these are settings gone wrong.
    for (const [name, value] of [
      ['KAFKA_PORT', '9092'],
      ['KAFKA_SERVICE_HOST', 'kafka.example'],
      ['KAFKA_PORT_9092_TCP_PORT', '9093'],
      ['KAFKA_PORT_9092_TCP_PROTO', 'udp'],
      ['KAFKA_SERVICE_PORTS', '9092'],
    ] as const) {
      refusal({ ...BASE, [name]: value }, name);
    }
  });

  it('refuses a setting that holds a service link (a Service named reconciler), naming it, once', () => {
    const list = parseReconcilerConfig({ ...RECONCILE, RECONCILER_PORT: 'tcp://10.0.0.5:9464' });
    assert.equal(list.ok, false);
    if (list.ok) return;
    assert.deepEqual(list.problems, [
      'RECONCILER_PORT: "tcp://10.0.0.5:9464" is a Kubernetes service link (a Service named reconciler in the namespace), not a value of this setting; set RECONCILER_PORT in the pod\'s environment (empty: not set), or set enableServiceLinks: false',
    ]);
    const unset = parseReconcilerConfig({ ...RECONCILE, RECONCILER_PORT: '' });
    assert.equal(unset.ok && unset.config.port, undefined);
  });

  it('IGNORE_ENV lists deliberate extras: names, or prefixes ending in *', () => {
    const extras = { KAFKA_CFG_NODE_ID: '1', KAFKA_CFG_LISTENERS: 'x', WEBEX_TEAMS_TOKEN: 't' };
    assert.ok(mentions(problems({ ...BASE, ...extras }), 'KAFKA_CFG_NODE_ID'));
    config({ ...BASE, ...extras, IGNORE_ENV: 'KAFKA_CFG_*, WEBEX_TEAMS_TOKEN' });
    const list = problems({
      ...BASE,
      ...extras,
      PRIVACY_DROP_FEILDS: 'x',
      IGNORE_ENV: 'KAFKA_CFG_*',
    });
    assert.deepEqual(
      list.map((p) => p.split(':')[0]),
      ['WEBEX_TEAMS_TOKEN', 'PRIVACY_DROP_FEILDS'],
    );
    withFiles(
      { 'c.json': JSON.stringify({ ...BASE, IGNORE_ENV: ['WEBEX_TEAMS_TOKEN'] }) },
      (path) => {
        config({ CONFIG_FILE: path('c.json'), WEBEX_TEAMS_TOKEN: 't' });
      },
    );
  });

  it('suggests the setting for an unknown key of the config file too', () => {
    withFiles({ 'c.json': JSON.stringify({ ...BASE, PRIVACY_DROP_FEILDS: ['x'] }) }, (path) => {
      const list = problems({ CONFIG_FILE: path('c.json') });
      const p = list.find((x) => x.startsWith('PRIVACY_DROP_FEILDS:'));
      assert.match(
        p ?? '',
        /in CONFIG_FILE .*did you mean PRIVACY_DROP_FIELDS\?/,
        JSON.stringify(list),
      );
    });
  });

  it('measures edits with transpositions as one edit', () => {
    assert.equal(editDistance('FEILDS', 'FIELDS'), 1);
    assert.equal(editDistance('SHA265', 'SHA256'), 1);
    assert.equal(editDistance('SECRET', 'SECRETS'), 1);
    assert.equal(editDistance('NODE_ENV', 'IGNORE_ENV'), 3);
    assert.equal(editDistance('', 'ABC'), 3);
  });
});
