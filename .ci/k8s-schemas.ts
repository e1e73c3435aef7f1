/**
 * @module .ci/k8s-schemas
 * Kubernetes JSON schemas for kubeconform, made here from specs that package registries serve
 * (no download from GitHub): the OpenAPI v2 document of k8s.io/kubernetes
 * (api/openapi-spec/swagger.json in its Go module) and CRD manifests (the ServiceMonitor's
 * from the prometheus-operator Go module). Written in kubeconform's layout,
 * `<out>/v<version>-standalone-strict/<kind>-<group>-<version>.json`, one self-contained file
 * per kind: the kind's schema and, under `definitions`, every definition it reaches. Strict as
 * `kubeconform -strict` expects: every object with properties gets `additionalProperties: false`,
 * so a misspelt or misplaced field is an error. IntOrString and Quantity take a string or a
 * number; descriptions and formats are left out.
 *
 *   node .ci/k8s-schemas.ts --swagger swagger.json --crd a.yaml ... --version 1.37.2 --out DIR
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';

type Schema = { [key: string]: unknown };
type Gvk = { group: string; version: string; kind: string };

const { values } = parseArgs({
  options: {
    swagger: { type: 'string' },
    crd: { type: 'string', multiple: true, default: [] },
    version: { type: 'string' },
    out: { type: 'string' },
  },
});
if (!values.swagger || !values.version || !values.out) {
  console.error('usage: k8s-schemas.ts --swagger FILE [--crd FILE ...] --version X.Y.Z --out DIR');
  process.exit(2);
}

const DRAFT = 'http://json-schema.org/draft-07/schema#';
const REF = '#/definitions/';
const INT_OR_STRING = { anyOf: [{ type: 'string' }, { type: 'integer' }] };
const SPECIAL: Record<string, Schema> = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': INT_OR_STRING,
  'io.k8s.apimachinery.pkg.api.resource.Quantity': {
    anyOf: [{ type: 'string' }, { type: 'number' }],
  },
};
const DROPPED = new Set(['description', 'format', 'default', 'example', 'externalDocs']);

const isSchema = (v: unknown): v is Schema =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One schema made strict and plain JSON Schema, following its structure (not property names). */
const strict = (s: Schema): Schema => {
  if (s['x-kubernetes-int-or-string'] === true && s.type === undefined && s.anyOf === undefined) {
    return INT_OR_STRING;
  }
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (DROPPED.has(k) || k.startsWith('x-')) continue;
    if (k === 'properties' && isSchema(v)) {
      out.properties = Object.fromEntries(
        Object.entries(v).map(([name, p]) => [name, isSchema(p) ? strict(p) : p]),
      );
    } else if ((k === 'items' || k === 'additionalProperties' || k === 'not') && isSchema(v)) {
      out[k] = strict(v);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      out[k] = v.map((x) => (isSchema(x) ? strict(x) : x));
    } else if (k !== 'nullable') {
      out[k] = v;
    }
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  const open = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties !== undefined && out.additionalProperties === undefined && !open) {
    out.additionalProperties = false;
  }
  return out;
};

const refsOf = (s: unknown, into: Set<string>): void => {
  if (Array.isArray(s)) for (const x of s) refsOf(x, into);
  else if (isSchema(s)) {
    for (const [k, v] of Object.entries(s)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF)) into.add(v.slice(REF.length));
      else refsOf(v, into);
    }
  }
};

const apiVersionOf = (g: Gvk) => (g.group === '' ? g.version : `${g.group}/${g.version}`);
/** kubeconform's file name: lower-case kind, the group's first label, the version. */
const fileOf = (g: Gvk) =>
  `${g.kind.toLowerCase()}${g.group === '' ? '' : `-${g.group.split('.')[0]?.toLowerCase()}`}-${g.version.toLowerCase()}.json`;

/** The kind's schema with apiVersion and kind pinned to its own. */
const pinned = (s: Schema, gvks: Gvk[]): Schema => {
  const properties = { ...(isSchema(s.properties) ? s.properties : {}) };
  properties.apiVersion = { type: 'string', enum: [...new Set(gvks.map(apiVersionOf))] };
  properties.kind = { type: 'string', enum: [...new Set(gvks.map((g) => g.kind))] };
  return { ...s, properties };
};

const dir = join(values.out, `v${values.version}-standalone-strict`);
mkdirSync(dir, { recursive: true });
const files = new Map<string, { gvks: Gvk[]; schema: Schema }>();
const add = (g: Gvk, schema: Schema) => {
  const name = fileOf(g);
  const seen = files.get(name);
  files.set(name, { gvks: [...(seen?.gvks ?? []), g], schema: seen?.schema ?? schema });
};

const swagger = JSON.parse(readFileSync(values.swagger, 'utf8')) as {
  definitions: Record<string, Schema>;
};
const definitions = Object.fromEntries(
  Object.entries(swagger.definitions).map(([name, d]) => [name, SPECIAL[name] ?? strict(d)]),
);
for (const [name, d] of Object.entries(swagger.definitions)) {
  const gvks = d['x-kubernetes-group-version-kind'];
  if (!Array.isArray(gvks)) continue;
  const reached = new Set<string>();
  const queue = [name];
  while (queue.length > 0) {
    const next = queue.pop() as string;
    if (reached.has(next)) continue;
    reached.add(next);
    const more = new Set<string>();
    refsOf(definitions[next], more);
    queue.push(...more);
  }
  reached.delete(name);
  const own = definitions[name] as Schema;
  const schema: Schema = {
    ...own,
    definitions: Object.fromEntries([...reached].sort().map((r) => [r, definitions[r]])),
  };
  for (const g of gvks as Gvk[]) add(g, schema);
}

for (const file of values.crd) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS() as {
      kind?: string;
      spec?: {
        group: string;
        names: { kind: string };
        versions: { name: string; schema?: { openAPIV3Schema?: Schema } }[];
      };
    };
    if (crd?.kind !== 'CustomResourceDefinition' || crd.spec === undefined) continue;
    for (const v of crd.spec.versions) {
      const s = v.schema?.openAPIV3Schema;
      if (s === undefined) continue;
      add({ group: crd.spec.group, version: v.name, kind: crd.spec.names.kind }, strict(s));
    }
  }
}

for (const [name, { gvks, schema }] of files) {
  writeFileSync(join(dir, name), JSON.stringify({ $schema: DRAFT, ...pinned(schema, gvks) }));
}
console.log(`${files.size} schemas in ${dir}`);
