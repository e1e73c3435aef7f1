/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests:
 * it throws on anything a scraper would refuse or misread (bad names, bad
 * escapes, samples before their TYPE, a family split in two, a series twice,
 * histogram buckets that are not cumulative or disagree with `_count`).
 */
export type Sample = { name: string; labels: Record<string, string>; value: number };
export type Family = { name: string; type: string; help: string | undefined; samples: Sample[] };

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

const parseValue = (text: string, line: string): number => {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`bad value "${text}" in: ${line}`);
  }
  return Number(text);
};

/** Parses `{a="x",b="y"}` from `text` at `i` (at the `{`); returns labels and the index after `}`. */
const parseLabels = (text: string, start: number, line: string) => {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || name in labels) throw new Error(`bad label "${name}" in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape in: ${line}`);
        j += 2;
        continue;
      }
      value += ch;
      j += 1;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`bad label separator in: ${line}`);
  }
  return { labels, end: i + 1 };
};

const familyOf = (sample: string, families: Map<string, Family>): Family | undefined => {
  const direct = families.get(sample);
  if (direct !== undefined) return direct;
  const base = sample.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(base);
  return f !== undefined && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
};

const checkHistogram = (f: Family) => {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (samples.find((s) => s.name === `${f.name}_sum`) === undefined || count === undefined) {
      throw new Error(`histogram ${f.name} lacks _sum or _count`);
    }
    let previousLe = Number.NEGATIVE_INFINITY;
    let previous = 0;
    for (const b of buckets) {
      const le = b.labels.le === undefined ? Number.NaN : parseValue(b.labels.le, f.name);
      if (!(le > previousLe)) throw new Error(`histogram ${f.name}: le not increasing`);
      if (b.value < previous) throw new Error(`histogram ${f.name}: buckets not cumulative`);
      previousLe = le;
      previous = b.value;
    }
    if (previousLe !== Number.POSITIVE_INFINITY || previous !== count.value) {
      throw new Error(`histogram ${f.name}: +Inf bucket missing or not equal to _count`);
    }
  }
};

export const parsePrometheusText = (text: string): Map<string, Family> => {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const closed = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') throw new Error('empty line');
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC.test(name)) throw new Error(`bad metric name in: ${line}`);
      let f = families.get(name);
      if (f === undefined) {
        if (closed.has(name)) throw new Error(`family ${name} split: ${line}`);
        f = { name, type: 'untyped', help: undefined, samples: [] };
        families.set(name, f);
      } else if (f.samples.length > 0) throw new Error(`metadata after samples: ${line}`);
      if (current !== undefined && current !== f) closed.add(current.name);
      current = f;
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        f.type = rest;
      } else {
        if (f.help !== undefined) throw new Error(`HELP twice: ${line}`);
        f.help = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`bad sample: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC.test(name)) throw new Error(`bad metric name in: ${line}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, nameEnd, line);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) {
      throw new Error(`bad sample: ${line}`);
    }
    const value = parseValue(parts[1] ?? '', line);
    const f = familyOf(name, families);
    if (f === undefined || f !== current) {
      throw new Error(`sample outside its family (no TYPE before it, or interleaved): ${line}`);
    }
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new Error(`series twice: ${line}`);
    seen.add(series);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`negative counter: ${line}`);
    f.samples.push({ name, labels, value });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
};

/** The value of one series; throws when it is not there. */
export const sampleValue = (
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number => {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(labels);
      if (
        keys.length === Object.keys(s.labels).length &&
        keys.every((k) => s.labels[k] === labels[k])
      ) {
        return s.value;
      }
    }
  }
  throw new Error(`no series ${name}${JSON.stringify(labels)}`);
};
