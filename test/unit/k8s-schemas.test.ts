/**
 * .ci/k8s-schemas.ts, the converter .ci/k8s-check uses to make kubeconform's schemas from the
 * Kubernetes OpenAPI document and CRDs, on a small document of the same shape: kubeconform's
 * file layout, one self-contained file per kind, strict objects, IntOrString and Quantity as
 * string or number, apiVersion and kind pinned, a CRD's nullable and preserved-unknown fields.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../.ci/k8s-schemas.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'k8s-schemas-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const swagger = {
  definitions: {
    'io.k8s.api.apps.v1.Deployment': {
      description: 'left out',
      'x-kubernetes-group-version-kind': [{ group: 'apps', kind: 'Deployment', version: 'v1' }],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        spec: { $ref: '#/definitions/io.k8s.api.apps.v1.DeploymentSpec' },
      },
    },
    'io.k8s.api.apps.v1.DeploymentSpec': {
      properties: {
        replicas: { type: 'integer', format: 'int32' },
        maxSurge: { $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
      required: ['replicas'],
    },
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
    'io.k8s.api.core.v1.Service': {
      'x-kubernetes-group-version-kind': [{ group: '', kind: 'Service', version: 'v1' }],
      properties: { cpu: { $ref: '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity' } },
    },
    'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
    'io.k8s.api.unused.v1.Unused': { properties: { a: { type: 'string' } } },
  },
};
const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  group: monitoring.coreos.com
  names: { kind: ServiceMonitor }
  versions:
    - name: v1
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                port: { x-kubernetes-int-or-string: true }
                note: { type: string, nullable: true }
                free: { type: object, x-kubernetes-preserve-unknown-fields: true, properties: { a: { type: string } } }
`;

const convert = () => {
  writeFileSync(join(dir, 'swagger.json'), JSON.stringify(swagger));
  writeFileSync(join(dir, 'crd.yaml'), crd);
  const r = spawnSync(
    process.execPath,
    [SCRIPT, '--swagger', join(dir, 'swagger.json'), '--crd', join(dir, 'crd.yaml')].concat([
      '--version',
      '1.2.3',
      '--out',
      join(dir, 'out'),
    ]),
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = join(dir, 'out', 'v1.2.3-standalone-strict');
  const read = (name: string) => JSON.parse(readFileSync(join(out, name), 'utf8'));
  return { files: readdirSync(out).sort(), read };
};

describe('.ci/k8s-schemas.ts', () => {
  const { files, read } = convert();

  it("writes one file per kind in kubeconform's layout", () => {
    assert.deepEqual(files, [
      'deployment-apps-v1.json',
      'service-v1.json',
      'servicemonitor-monitoring-v1.json',
    ]);
  });

  it('makes each file self-contained and strict, without descriptions or formats', () => {
    const d = read('deployment-apps-v1.json');
    assert.equal(d.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(d.additionalProperties, false);
    assert.equal(d.description, undefined);
    assert.deepEqual(d.properties.apiVersion, { type: 'string', enum: ['apps/v1'] });
    assert.deepEqual(d.properties.kind, { type: 'string', enum: ['Deployment'] });
    assert.deepEqual(Object.keys(d.definitions).sort(), [
      'io.k8s.api.apps.v1.DeploymentSpec',
      'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    ]);
    const spec = d.definitions['io.k8s.api.apps.v1.DeploymentSpec'];
    assert.equal(spec.additionalProperties, false);
    assert.deepEqual(spec.required, ['replicas']);
    assert.deepEqual(spec.properties.replicas, { type: 'integer' });
    assert.deepEqual(spec.properties.labels.additionalProperties, { type: 'string' });
    assert.deepEqual(d.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], {
      anyOf: [{ type: 'string' }, { type: 'integer' }],
    });
    const s = read('service-v1.json');
    assert.deepEqual(s.properties.apiVersion.enum, ['v1']);
    assert.deepEqual(s.definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'], {
      anyOf: [{ type: 'string' }, { type: 'number' }],
    });
  });

  it("keeps a CRD's int-or-string, nullable and preserved-unknown fields", () => {
    const m = read('servicemonitor-monitoring-v1.json');
    assert.deepEqual(m.properties.apiVersion.enum, ['monitoring.coreos.com/v1']);
    const spec = m.properties.spec;
    assert.equal(spec.additionalProperties, false);
    assert.deepEqual(spec.properties.port, { anyOf: [{ type: 'string' }, { type: 'integer' }] });
    assert.deepEqual(spec.properties.note, { type: ['string', 'null'] });
    assert.equal(spec.properties.free.additionalProperties, undefined, 'open object stays open');
  });
});
