/** Rewrites `schemas/cdr.avsc` from the field list (`npm run schema`). */
import { writeFileSync } from 'node:fs';
import { buildCdrSchema, SCHEMA_PATH } from './avro-schema.ts';

writeFileSync(SCHEMA_PATH, `${JSON.stringify(buildCdrSchema(), null, 2)}\n`);
console.log(`wrote ${SCHEMA_PATH.pathname}`);
