/**
 * The consumer examples that no process here runs (a Kafka Connect worker and
 * Flink are not on this machine) are checked against the contract: topic,
 * formats, key, header names, and every column or field they name exists in
 * schemas/cdr.avsc with a matching type. (examples/python is run against the
 * real stack by test/integration/examples-python.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HEADER } from '../../src/kafka/messages.ts';
import { parseKafkaConfig } from '../../src/settings.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

type AvroType =
  | string
  | { type: string; logicalType?: string; values?: AvroType; fields?: AvroField[] }
  | AvroType[];
type AvroField = { name: string; type: AvroType };
const avsc = JSON.parse(read('schemas/cdr.avsc')) as { fields: AvroField[] };
const field = (fields: AvroField[], name: string): AvroType => {
  const f = fields.find((x) => x.name === name);
  assert.ok(f, `${name} is a field of schemas/cdr.avsc`);
  return f.type;
};
/** The Flink SQL type an Avro type reads as (nullable unions unwrapped). */
const flinkType = (t: AvroType): string => {
  if (Array.isArray(t)) {
    const branches = t.filter((b) => b !== 'null');
    assert.equal(branches.length, 1);
    return flinkType(branches[0] as AvroType);
  }
  if (typeof t === 'string') {
    return (
      { string: 'STRING', boolean: 'BOOLEAN', long: 'BIGINT', int: 'INT', double: 'DOUBLE' }[t] ?? t
    );
  }
  if (t.logicalType === 'timestamp-millis') return 'TIMESTAMP(3)';
  if (t.type === 'enum') return 'STRING';
  if (t.type === 'map') return `MAP<STRING, ${flinkType(t.values ?? 'string')}>`;
  if (t.type === 'record') {
    return `ROW<${(t.fields ?? []).map((f) => `${f.name} ${flinkType(f.type)}`).join(', ')}>`;
  }
  return flinkType(t.type);
};
/** The four keys seen in live data that contract v2 made schema fields. */
const V2_COLUMNS = [
  'external_customer_id',
  'transfer_type',
  'transfer_type_context',
  'answer_reason',
];

const defaultTopic = () => {
  const parsed = parseKafkaConfig({ KAFKA_BROKERS: 'k:9092', SCHEMA_REGISTRY_URL: 'http://r' });
  assert.ok(parsed.ok);
  return parsed.config.topic;
};

describe('examples/kafka-connect/jdbc-sink-postgres.json', () => {
  const { config } = JSON.parse(read('examples/kafka-connect/jdbc-sink-postgres.json')) as {
    config: Record<string, string>;
  };

  it('reads the CDR topic with the Avro converter and the registry', () => {
    assert.equal(config.topics, defaultTopic());
    assert.equal(config['value.converter'], 'io.confluent.connect.avro.AvroConverter');
    assert.match(config['value.converter.schema.registry.url'] ?? '', /^https?:\/\//);
    assert.equal(config['key.converter'], 'org.apache.kafka.connect.storage.StringConverter');
  });

  it('upserts on report_id and drops the map the JDBC sink cannot write; both are schema fields', () => {
    assert.equal(config['insert.mode'], 'upsert');
    assert.equal(config['pk.mode'], 'record_value');
    assert.equal(flinkType(field(avsc.fields, config['pk.fields'] ?? '')), 'STRING');
    const dropped = config['transforms.dropMap.exclude'] ?? '';
    assert.match(flinkType(field(avsc.fields, dropped)), /^MAP</);
    const chain = (config.transforms ?? '').split(',');
    for (const t of chain) assert.ok(config[`transforms.${t}.type`], `transform ${t} has a type`);
  });

  describe('keep-latest-postgres.sql', () => {
    const sql = read('examples/kafka-connect/keep-latest-postgres.sql').replace(/--.*$/gm, '');
    const table = sql.match(/CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]*?)\);/);
    const [, name = '', body = ''] = table ?? [];
    assert.ok(name && body);
    const columns = body.split(',').map((c) => c.trim().split(/\s+/)[0] as string);

    it("creates the sink's table with the key, Report time and the contract v2 columns", () => {
      assert.equal(name, config['table.name.format']);
      assert.match(body, new RegExp(`\\b${config['pk.fields']} TEXT PRIMARY KEY`));
      for (const c of ['report_time', ...V2_COLUMNS]) assert.ok(columns.includes(c), c);
      for (const c of columns) field(avsc.fields, c);
    });

    it('overwrites a row only with a version whose Report time is not earlier', () => {
      assert.match(sql, /IF NEW\.report_time < OLD\.report_time THEN\s+RETURN NULL;/);
      assert.match(sql, new RegExp(`BEFORE UPDATE ON ${name}\\s+FOR EACH ROW EXECUTE FUNCTION`));
    });
  });
});

describe('examples/flink/cdr-table.sql', () => {
  const sql = read('examples/flink/cdr-table.sql').replace(/--.*$/gm, '');
  const table = sql.match(/CREATE TABLE\s+\w+\s*\(([\s\S]*?)\)\s*WITH\s*\(([\s\S]*?)\);/);
  assert.ok(table?.[1] && table[2]);
  const options = Object.fromEntries(
    [...table[2].matchAll(/'([^']+)'\s*=\s*'([^']*)'/g)].map((m) => [m[1], m[2]]),
  );
  // Top-level column definitions: split on commas outside <...>.
  const columns: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of table[1]) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      columns.push(current.trim());
      current = '';
    } else current += ch;
  }
  columns.push(current.trim());

  it('Kafka connector on the CDR topic, avro-confluent value, key = org', () => {
    assert.equal(options.connector, 'kafka');
    assert.equal(options.topic, defaultTopic());
    assert.equal(options['value.format'], 'avro-confluent');
    assert.match(options['value.avro-confluent.url'] ?? '', /^https?:\/\//);
    assert.equal(options['key.format'], 'raw');
    assert.equal(options['value.fields-include'], 'EXCEPT_KEY');
    assert.ok(columns.some((c) => c.startsWith(`${options['key.fields']} STRING`)));
  });

  it('every value column is a schema field of the type it reads as', () => {
    const valueColumns = columns.filter(
      (c) =>
        !/\bMETADATA\b|\bAS\b|^WATERMARK/.test(c) && !c.startsWith(`${options['key.fields']} `),
    );
    assert.ok(valueColumns.length >= 10);
    for (const c of valueColumns) {
      const [, name, type] = c.match(/^(\w+)\s+(.+)$/s) ?? [];
      assert.ok(name && type, c);
      assert.equal(type.replace(/\s+/g, ' '), flinkType(field(avsc.fields, name)), name);
    }
  });

  it('names the contract v2 columns, and keeps the latest version by Report time', () => {
    for (const c of V2_COLUMNS) assert.ok(columns.includes(`${c} STRING`), c);
    assert.match(
      sql,
      /ROW_NUMBER\(\) OVER \(PARTITION BY report_id ORDER BY report_time DESC[^)]*\)[\s\S]*WHERE version_rank = 1/,
    );
  });

  it('headers as METADATA, and only header names the code writes', () => {
    assert.ok(columns.some((c) => /^headers MAP<STRING, BYTES> METADATA FROM 'headers'/.test(c)));
    const used = [...sql.matchAll(/headers\['([^']+)'\]/g)].map((m) => m[1]);
    assert.ok(used.length >= 2);
    for (const h of used) assert.ok(Object.values(HEADER).includes(h as never), `${h} is written`);
  });
});
