/**
 * @module config/sources
 * Where the settings come from, strongest first: the environment; a JSON file
 * named by CONFIG_FILE (the CLI's `--config <path>` sets it) whose keys are the
 * same names; the defaults of the schemas. Each name in `fromFile` may instead
 * be given as `<NAME>_FILE`, the path of a file holding the value (trailing
 * newline trimmed), so that secrets can come from mounted files; setting both
 * is a problem. Names that look like settings but are none are problems too
 * (setting-names.ts), so a typo never passes as "not set".
 */
import { readFileSync } from 'node:fs';
import type { SettingNames } from '../setting-names.ts';

export type RawEnv = Record<string, string>;

/** Where a setting's value came from, for `config check`. */
export type Sources = Record<string, string>;

export type Resolved = { values: RawEnv; sources: Sources; problems: string[] };

// `FOO=` in a .env file means "not set", not "the empty string".
const emptyAsUnset = (env: NodeJS.ProcessEnv): RawEnv =>
  Object.fromEntries(
    Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[1] !== ''),
  );

const fileText = (path: string): { ok: true; text: string } | { ok: false; problem: string } => {
  try {
    return { ok: true, text: readFileSync(path, 'utf8').replace(/\r?\n$/, '') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { ok: false, problem: `cannot read ${path} (${code})` };
  }
};

/**
 * `known`: every setting name of every process; `fromFile`: the names that
 * may be given as `<NAME>_FILE`; `names`: the unknown-name detection over them.
 */
export const createSettingSources = (deps: {
  known: readonly string[];
  fromFile: readonly string[];
  names: SettingNames;
}) => {
  const known: ReadonlySet<string> = new Set(deps.known);
  const { names } = deps;

  /** The settings of the JSON file named by CONFIG_FILE: an object with the names as keys. */
  const readConfigFile = (path: string): { values: RawEnv; problems: string[] } => {
    const text = fileText(path);
    if (!text.ok) return { values: {}, problems: [`CONFIG_FILE: ${text.problem}`] };
    let json: unknown;
    try {
      json = JSON.parse(text.text);
    } catch (e) {
      return { values: {}, problems: [`CONFIG_FILE: ${path} is not JSON (${String(e)})`] };
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return { values: {}, problems: [`CONFIG_FILE: ${path} must hold one JSON object`] };
    }
    const values: RawEnv = {};
    const problems: string[] = [];
    for (const [name, v] of Object.entries(json)) {
      if (!known.has(name) || name === 'CONFIG_FILE') {
        const hint = name === 'CONFIG_FILE' ? '' : names.suggestion(name);
        problems.push(`${name}: not a setting (in CONFIG_FILE ${path})${hint ? `; ${hint}` : ''}`);
      } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
        values[name] = v.join(',');
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        values[name] = String(v);
      } else if (v !== null) {
        problems.push(`${name}: a string, number, boolean or list of strings (in CONFIG_FILE)`);
      }
    }
    return { values: emptyAsUnset(values), problems };
  };

  return {
    /**
     * The settings as one flat map of names to text: the environment over the
     * config file, then every `<NAME>_FILE` replaced by its file's content.
     * For a name and its `_FILE` twin, the environment setting either one hides
     * both in the file.
     */
    resolve(env: NodeJS.ProcessEnv): Resolved {
      const fromEnv = emptyAsUnset(env);
      const file =
        fromEnv.CONFIG_FILE === undefined
          ? { values: {}, problems: [] }
          : readConfigFile(fromEnv.CONFIG_FILE);
      const values: RawEnv = {};
      const sources: Sources = {};
      const pairOf = (name: string) => name.replace(/_FILE$/, '');
      const envPairs = new Set(Object.keys(fromEnv).map(pairOf));
      for (const [name, v] of Object.entries(file.values)) {
        if (envPairs.has(pairOf(name))) continue;
        values[name] = v;
        sources[name] = 'config file';
      }
      for (const [name, v] of Object.entries(fromEnv)) {
        values[name] = v;
        sources[name] = 'environment';
      }
      const ignore = (values.IGNORE_ENV ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
      // A setting holding a service link is refused, and not parsed as well (no second problem).
      const links = names.serviceLinks(fromEnv);
      for (const link of links) delete values[link.name];
      const problems = [
        ...file.problems,
        ...names.unknownProblems(fromEnv, ignore),
        ...links.map((link) => link.problem),
      ];
      for (const name of deps.fromFile) {
        const path = values[`${name}_FILE`];
        if (path === undefined) continue;
        if (values[name] !== undefined) {
          problems.push(`${name}/${name}_FILE: set one of them, not both`);
          continue;
        }
        const read = fileText(path);
        if (!read.ok) {
          problems.push(`${name}_FILE: ${read.problem}`);
        } else if (read.text !== '') {
          values[name] = read.text;
          sources[name] = `${name}_FILE ${path}`;
        }
      }
      return { values, sources, problems };
    },
  };
};
