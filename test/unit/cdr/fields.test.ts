/**
 * The types derived from the field list (cdr/fields.ts) name the same fields
 * as the run-time list: the TypeScript compiler evaluates `FieldName`,
 * `SpecName`, `LiveName`, `TextFieldName` and `RecordFields` over a small
 * probe, and the test compares them with FIELDS. The type-level name rule
 * (`ToFieldName`) is a copy of `toFieldName`'s regex; this keeps the two equal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { FIELDS } from '../../../src/cdr/fields.ts';

const FIELDS_TS = fileURLToPath(new URL('../../../src/cdr/fields.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'field-types-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const probe = join(dir, 'probe.ts');
writeFileSync(
  probe,
  `import type { FieldName, LiveName, RecordFields, SpecName, TextFieldName } from ${JSON.stringify(relative(dir, FIELDS_TS))};
export type Names = [FieldName, SpecName, LiveName, TextFieldName];
export declare const record: RecordFields;
`,
);
const config = ts.getParsedCommandLineOfConfigFile(
  TSCONFIG,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
  },
);
if (config === undefined) throw new Error(`cannot read ${TSCONFIG}`);
// the project's compiler options, without @types/node (the field list needs none)
const program = ts.createProgram([probe], { ...config.options, types: [] });
const checker = program.getTypeChecker();
const source = program.getSourceFile(probe);
if (source === undefined) throw new Error('probe not compiled');

const declared = (name: string): ts.Node => {
  let found: ts.Node | undefined;
  ts.forEachChild(source, (n) => {
    if (ts.isTypeAliasDeclaration(n) && n.name.text === name) found = n;
    if (ts.isVariableStatement(n)) {
      for (const d of n.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.name.text === name) found = d;
      }
    }
  });
  if (found === undefined) throw new Error(`no ${name} in the probe`);
  return found;
};

/** The string literals of a union type, sorted. */
const literals = (t: ts.Type): string[] =>
  (t.isUnion() ? t.types : [t])
    .map((m) => (m.isStringLiteral() ? m.value : assert.fail(checker.typeToString(m))))
    .sort();

const sorted = (xs: readonly string[]) => [...xs].sort();

describe('cdr/fields types', () => {
  it('compiles the probe without errors', () => {
    const problems = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(problems, []);
  });

  it('derives the Avro names, both spellings and the text fields of the list', () => {
    const [fieldName, specName, liveName, textName] = checker
      .getTypeArguments(checker.getTypeAtLocation(declared('Names')) as ts.TypeReference)
      .map(literals);
    assert.deepEqual(fieldName, sorted(FIELDS.map((f) => f.name)));
    assert.deepEqual(specName, sorted(FIELDS.map((f) => f.webex)));
    assert.deepEqual(liveName, sorted(FIELDS.map((f) => f.live ?? f.webex)));
    assert.deepEqual(
      textName,
      sorted(FIELDS.filter((f) => f.kind === 'string').map((f) => f.name)),
    );
    assert.equal(fieldName?.length, 87);
  });

  it('types each field of a record by its kind, nullable', () => {
    const record = checker.getTypeAtLocation(declared('record'));
    const expected = { string: 'string', boolean: 'boolean', long: 'number', time: 'number' };
    const props = checker.getPropertiesOfType(record);
    assert.deepEqual(props.map((p) => p.name).sort(), sorted(FIELDS.map((f) => f.name)));
    for (const f of FIELDS) {
      const p = props.find((x) => x.name === f.name);
      assert.ok(p !== undefined, f.name);
      const type = checker.typeToString(checker.getTypeOfSymbol(p));
      assert.equal(type, `${expected[f.kind]} | null`, f.name);
    }
  });
});
