/**
 * @module cdr/avro-schema
 * Builds the Avro schema of one CDR from the field list. The committed
 * `schemas/cdr.avsc` is the public contract; a test checks that it equals
 * what this module builds, so neither can drift. `npm run schema` rewrites it.
 *
 * This is contract v2. `schemas/cdr.v1.avsc` is v1 as it was published, kept
 * verbatim (a test pins its bytes): v2 is a BACKWARD-compatible evolution of
 * it (fields added, all optional with default null; nothing removed or
 * retyped; the record names unchanged, since Avro resolves records by name), so
 * a v2 reader reads every record written with v1.
 */
import { readFileSync } from 'node:fs';
import { FIELDS, type Field } from './fields.ts';
import { FEEDS, SOURCES } from './normalise.ts';

export const SCHEMA_PATH = new URL('../../schemas/cdr.avsc', import.meta.url);
/** Contract v1, frozen: what the topic's older records were written with. */
export const SCHEMA_V1_PATH = new URL('../../schemas/cdr.v1.avsc', import.meta.url);

const avroType = (f: Field): unknown => {
  switch (f.kind) {
    case 'boolean':
      return ['null', 'boolean'];
    case 'long':
      return ['null', 'long'];
    case 'time':
      return ['null', { type: 'long', logicalType: 'timestamp-millis' }];
    case 'string':
      return ['null', 'string'];
  }
};

const doc = (f: Field): string => {
  const live = f.live ? ` (live spelling: "${f.live}")` : '';
  const aliases = f.aliases ? ` Also read as ${f.aliases.map((a) => `"${a}"`).join(', ')}.` : '';
  const unit = f.kind === 'time' ? ' UTC.' : '';
  const note = f.note ? ` ${f.note}.` : '';
  return `Webex: "${f.webex}"${live}.${unit}${note}${aliases}`;
};

export const buildCdrSchema = () => ({
  type: 'record',
  name: 'CallDetailRecord',
  namespace: 'io.webexcdrkafka.v1',
  doc: 'One Webex Calling call leg (CDR) as published by webex-cdr-kafka, contract v2 (BACKWARD-compatible with v1; the namespace keeps its v1 name because Avro resolves records by name). Field names are the Webex names lower-cased with every run of non-alphanumerics turned into "_".',
  fields: [
    ...FIELDS.map((f) => ({ name: f.name, type: avroType(f), default: null, doc: doc(f) })),
    {
      name: 'extra_fields',
      type: { type: 'map', values: 'string' },
      default: {},
      doc: 'Keys Webex sent that this schema does not know, the raw text of values that could not be parsed, and (since v2) the text "NA" of a field that is null because "NA" means no value there, keyed by the original Webex key. Non-string values are kept as JSON text.',
    },
    {
      name: 'ingest',
      doc: 'How this record reached Kafka.',
      type: {
        type: 'record',
        name: 'Ingest',
        fields: [
          {
            name: 'feed',
            type: { type: 'enum', name: 'Feed', symbols: [...FEEDS] },
            doc: 'Partner Hub feed type the connector was configured with.',
          },
          {
            name: 'source',
            type: { type: 'enum', name: 'Source', symbols: [...SOURCES] },
            doc: 'webhook: a Partner Hub delivery; reconciler: backfilled from the cdrsbyorg API.',
          },
          {
            name: 'received_at',
            type: { type: 'long', logicalType: 'timestamp-millis' },
            doc: 'When the connector received the delivery or fetched the records.',
          },
          {
            name: 'delivery_id',
            type: 'string',
            doc: 'Id of the webhook delivery or reconciler run that carried the record.',
          },
        ],
      },
    },
  ],
});

export type AvroSchema = ReturnType<typeof buildCdrSchema>;

/** The committed contract (v2 unless `path` says otherwise), as text (what is registered) and parsed. */
export const readCdrSchema = (path: URL = SCHEMA_PATH): { text: string; schema: AvroSchema } => {
  const text = readFileSync(path, 'utf8');
  return { text, schema: JSON.parse(text) as AvroSchema };
};
