/**
 * @module setting-names
 * Which environment variables are settings of the product, and which look as
 * if they were meant to be: a name under one of the product's prefixes (or a
 * near miss of a known name) that is not a known setting is a problem, with
 * the nearest known name as a suggestion. A typo must never pass as "not set"
 * (PRIVACY_DROP_FEILDS would publish the fields it meant to drop).
 *
 * The prefixes are derived from the names: the first word of each name
 * (KAFKA_, WEBHOOK_, WEBEX_, PRIVACY_, CDR_, RECONCILE_...), or its first two
 * words when the first is a common word that other software uses too
 * (SCHEMA_REGISTRY_, MAX_BODY_, KEEP_ALIVE_, RETRY_AFTER_...). Single-word names (PORT, HOST)
 * give no prefix. Not refused: Kubernetes service links (a Service `kafka`
 * gives KAFKA_SERVICE_HOST, KAFKA_PORT=tcp://..., ...; recognised by name
 * and value), Apache Kafka's own script variables (KAFKA_HEAP_OPTS, ...), and
 * the names or `PREFIX*` patterns the deployment lists in IGNORE_ENV.
 */

/** First words too common to claim all names under them: these claim two words. */
const COMMON_WORDS = new Set([
  'ACK',
  'CONFIG',
  'IGNORE',
  'KEEP',
  'LOG',
  'MAX',
  'PUBLISH',
  'REQUEST',
  'RETRY',
  'SCHEMA',
  'SHUTDOWN',
]);

/** The product's processes: their names are its prefixes even before a setting uses them. */
const PROCESS_PREFIXES = ['INGRESS_', 'RECONCILE'];

/** Read by Apache Kafka's own scripts (kafka-run-class.sh), often exported on a developer's machine. */
const KAFKA_SCRIPT_VARIABLES = new Set([
  'KAFKA_HOME',
  'KAFKA_OPTS',
  'KAFKA_HEAP_OPTS',
  'KAFKA_JVM_PERFORMANCE_OPTS',
  'KAFKA_GC_LOG_OPTS',
  'KAFKA_LOG4J_OPTS',
  'KAFKA_JMX_OPTS',
  'KAFKA_DEBUG',
]);

const words = (name: string) => name.split('_').filter((w) => w !== '');

/** The prefixes a list of setting names claims (see the module comment). */
export const prefixesOf = (names: readonly string[]): string[] => {
  const prefixes = new Set(PROCESS_PREFIXES);
  for (const name of names) {
    const w = words(name);
    const take = COMMON_WORDS.has(w[0] ?? '') ? 2 : 1;
    // A name of `take` words or fewer claims no prefix of its own (PORT, LOG_LEVEL).
    if (w.length > take) prefixes.add(`${w.slice(0, take).join('_')}_`);
  }
  return [...prefixes].sort();
};

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions. */
export const editDistance = (a: string, b: string): number => {
  const w = b.length + 1;
  // Three rows of the (a.length + 1) x w table in one array: this one, one back, two back.
  const d = new Int32Array(3 * w);
  for (let j = 0; j < w; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = (i % 3) * w;
    const back1 = ((i + 2) % 3) * w;
    const back2 = ((i + 1) % 3) * w;
    d[row] = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j < w; j++) {
      const bj = b.charCodeAt(j - 1);
      const replace = (d[back1 + j - 1] as number) + (ai === bj ? 0 : 1);
      const remove = (d[back1 + j] as number) + 1;
      const insert = (d[row + j - 1] as number) + 1;
      let best = replace < remove ? replace : remove;
      if (insert < best) best = insert;
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj) {
        const swap = (d[back2 + j - 2] as number) + 1;
        if (swap < best) best = swap;
      }
      d[row + j] = best;
    }
  }
  return d[(a.length % 3) * w + w - 1] as number;
};

/** How many edits still make a typo of a name this long (2, or 3 from 15 characters). */
const typoLimit = (name: string) => Math.max(2, Math.floor(name.length / 5));

/** The known name nearest to `name`, if it is near enough to be what was meant. */
export const nearestName = (name: string, known: readonly string[]): string | undefined => {
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    if (Math.abs(k.length - name.length) > typoLimit(name)) continue;
    const distance = editDistance(name, k);
    if (best === undefined || distance < best.distance) best = { name: k, distance };
  }
  return best !== undefined && best.distance <= typoLimit(name) ? best.name : undefined;
};

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;
const PORT_NUMBER = /^\d{1,5}$/;

const SVC = '[A-Z][A-Z0-9_]*';
const URL_VALUE = /^(tcp|udp|sctp):\/\/[^/]+:\d{1,5}$/;
const SERVICE_LINKS: [RegExp, (value: string, m: RegExpExecArray) => boolean][] = [
  [new RegExp(`^${SVC}_SERVICE_HOST$`), (v) => IP.test(v)],
  [new RegExp(`^${SVC}_SERVICE_PORT(_[A-Z0-9_]+)?$`), (v) => PORT_NUMBER.test(v)],
  [new RegExp(`^${SVC}_PORT$`), (v) => URL_VALUE.test(v)],
  [new RegExp(`^${SVC}_PORT_(\\d{1,5})_(TCP|UDP|SCTP)$`), (v) => URL_VALUE.test(v)],
  [new RegExp(`^${SVC}_PORT_\\d{1,5}_(TCP|UDP|SCTP)_PROTO$`), (v, m) => v === m[1]?.toLowerCase()],
  [new RegExp(`^${SVC}_PORT_(\\d{1,5})_(TCP|UDP|SCTP)_PORT$`), (v, m) => v === m[1]],
  [new RegExp(`^${SVC}_PORT_\\d{1,5}_(TCP|UDP|SCTP)_ADDR$`), (v) => IP.test(v)],
];

/**
 * The variables Kubernetes injects for each Service in the namespace
 * (enableServiceLinks, on by default): `<SVC>_SERVICE_HOST`,
 * `<SVC>_SERVICE_PORT[_<PORT NAME>]`, `<SVC>_PORT=tcp://ip:port`,
 * `<SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`. Matched by name and value.
 */
export const isServiceLink = (name: string, value: string): boolean =>
  SERVICE_LINKS.some(([shape, valid]) => {
    const m = shape.exec(name);
    return m !== null && valid(value, m);
  });

/** An IGNORE_ENV entry: a name, or a prefix ending in `*`. */
const ignores = (patterns: readonly string[], name: string) =>
  patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : p === name));

export type SettingNames = {
  readonly prefixes: readonly string[];
  /** "did you mean" text for an unknown name ('' when nothing is near). */
  suggestion(name: string): string;
  /** One problem per environment variable that looks like a setting but is none. */
  unknownProblems(env: Readonly<Record<string, string>>, ignore: readonly string[]): string[];
  /**
   * Settings whose value is a Kubernetes service link, not what was meant: a
   * Service named `reconciler` gives every pod of the namespace
   * RECONCILER_PORT=tcp://10.0.0.5:9464 (a `reconcile --once` CronJob too).
   */
  serviceLinks(env: Readonly<Record<string, string>>): { name: string; problem: string }[];
};

/**
 * `retired`: names once read, refused with their own hint. `fromFile`: the
 * names that may also be given as `<NAME>_FILE`. `hatch`: the setting that
 * lists deliberate extras.
 */
export const createSettingNames = (deps: {
  known: readonly string[];
  retired: Readonly<Record<string, string>>;
  fromFile: readonly string[];
  hatch: string;
}): SettingNames => {
  const known = new Set(deps.known);
  const list = [...known];
  const prefixes = prefixesOf(list);
  // Near misses of multi-word names are refused outside the prefixes too (LOG_LEVL,
  // KAFAK_BROKERS, REQUEST_TIMEOUT); single words are not (HOME is as near to HOST as
  // a typo would be), nor lowercase names (npm_config_*). Beyond 2 edits, only with
  // the same first word (NODE_ENV is 3 edits from IGNORE_ENV).
  const multiWord = list.filter((n) => words(n).length > 1);
  const nearMiss = (name: string) =>
    /^[A-Z][A-Z0-9]*_[A-Z0-9_]+$/.test(name) &&
    multiWord.some((k) => {
      if (Math.abs(k.length - name.length) > typoLimit(name)) return false;
      const d = editDistance(name, k);
      return d <= 2 || (d <= typoLimit(name) && words(k)[0] === words(name)[0]);
    });
  const suggestion = (name: string) => {
    const base = name.replace(/_FILE$/, '');
    if (name !== base && known.has(base)) {
      return `${base} cannot be given as a file; only ${deps.fromFile.join(', ')}`;
    }
    const near = nearestName(name, list);
    if (near !== undefined) return `did you mean ${near}?`;
    // No near name: the few settings sharing its longest prefix (MAX_BODY_SIZE: MAX_BODY_BYTES).
    const w = words(name);
    for (let n = w.length - 1; n >= 2; n--) {
      const prefix = `${w.slice(0, n).join('_')}_`;
      const siblings = list.filter((k) => k.startsWith(prefix));
      if (siblings.length > 0 && siblings.length <= 4) {
        return `settings starting ${prefix}: ${siblings.join(', ')}`;
      }
      if (siblings.length > 0) break;
    }
    return '';
  };
  const looksLikeSetting = (name: string) =>
    prefixes.some((p) => name.startsWith(p)) || nearMiss(name) || deps.retired[name] !== undefined;
  return {
    prefixes,
    suggestion,
    unknownProblems: (env, ignore) => {
      const problems: string[] = [];
      for (const [name, value] of Object.entries(env)) {
        if (known.has(name) || !looksLikeSetting(name)) continue;
        if (KAFKA_SCRIPT_VARIABLES.has(name) || isServiceLink(name, value)) continue;
        if (ignores(ignore, name)) continue;
        const retired = deps.retired[name];
        if (retired !== undefined) {
          problems.push(`${name}: ${retired}`);
          continue;
        }
        const hint = suggestion(name) || 'no setting has a similar name';
        problems.push(
          `${name}: not a setting of webex-cdr-kafka (${hint}); if it is meant for other software, list it in ${deps.hatch}`,
        );
      }
      return problems;
    },
    serviceLinks: (env) =>
      Object.entries(env)
        .filter(([name, value]) => known.has(name) && isServiceLink(name, value))
        .map(([name, value]) => ({
          name,
          problem: `${name}: "${value}" is a Kubernetes service link (a Service named ${serviceOf(name)} in the namespace), not a value of this setting; set ${name} in the pod's environment (empty: not set), or set enableServiceLinks: false`,
        })),
  };
};

/** The Service a service-link name comes from, as Kubernetes named it (RECONCILER_PORT: reconciler). */
const serviceOf = (name: string) =>
  name
    .replace(/_(SERVICE_HOST|SERVICE_PORT.*|PORT.*)$/, '')
    .toLowerCase()
    .replaceAll('_', '-');
