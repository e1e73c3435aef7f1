/**
 * @module reconciler/webex/region-redirect
 * Webex's region redirect: for an org whose data another region holds, the
 * analytics host answers HTTP 451 and says where the data is. The shape of
 * that answer is not public (docs/webex-questions.md), so it is read
 * tolerantly: `regionCandidates` collects every URL or host name the answer
 * offers, in this order: the `Location` (or `cisco-location`) header, JSON
 * fields whose name says URL, host, location, endpoint, domain or region (at
 * any depth up to 4), then URLs and host names in the message text.
 *
 * A candidate is only followed when it is on the allow-list
 * (`parseRedirectHosts`): `host` or `*.suffix` entries mean https on its
 * default port; an entry written with its scheme (`http://127.0.0.1:9001`,
 * `https://*.example.com:8443`) means exactly that scheme and port, so that
 * plain http is only ever allowed where someone wrote it down.
 */

/** Webex's API hosts: `analytics.webexapis.com`, `analytics-calling-gov.webexapis.com`, ... */
export const DEFAULT_REDIRECT_HOSTS: readonly string[] = ['*.webexapis.com'];

export type HostPattern = {
  readonly protocol: 'https:' | 'http:';
  /** Lower case; for a wildcard, the suffix after `*.`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** '' for the scheme's default port. */
  readonly port: string;
  /** As written. */
  readonly text: string;
};

const IP_LITERAL = /^(\[.*\]|[\d.]+)$/;

/** One allow-list entry, or why it cannot be one. */
export const parseHostPattern = (
  entry: string,
): { ok: true; pattern: HostPattern } | { ok: false; problem: string } => {
  const text = entry.trim();
  const bad = (why: string) => ({ ok: false as const, problem: `"${text}": ${why}` });
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  const protocol = scheme ? `${scheme[1]?.toLowerCase()}:` : 'https:';
  if (protocol !== 'https:' && protocol !== 'http:') return bad('only https:// or http://');
  const rest = (scheme ? text.slice(scheme[0].length) : text).replace(/\/$/, '');
  const wildcard = rest.startsWith('*.');
  const hostPort = wildcard ? rest.slice(2) : rest;
  if (hostPort === '' || hostPort.includes('*')) {
    return bad('a host name, or *. followed by a domain (*.webexapis.com)');
  }
  let url: URL;
  try {
    url = new URL(`${protocol}//${hostPort}`);
  } catch {
    return bad('not a host name');
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    return bad('a host (with an optional port), without path, query or user');
  }
  const host = url.hostname.toLowerCase();
  if (wildcard && (IP_LITERAL.test(host) || !host.includes('.'))) {
    return bad('a wildcard needs a domain with at least two labels after *. (*.webexapis.com)');
  }
  return { ok: true, pattern: { protocol, host, wildcard, port: url.port, text } };
};

/** The allow-list, or every entry that is not one. An empty list allows nothing. */
export const parseRedirectHosts = (
  entries: readonly string[],
): { ok: true; patterns: HostPattern[] } | { ok: false; problems: string[] } => {
  const patterns: HostPattern[] = [];
  const problems: string[] = [];
  for (const entry of entries) {
    if (entry.trim() === '') continue;
    const parsed = parseHostPattern(entry);
    if (parsed.ok) patterns.push(parsed.pattern);
    else problems.push(parsed.problem);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, patterns };
};

/** True when `url`'s scheme, host and port match one of the patterns. */
export const isAllowedHost = (url: URL, patterns: readonly HostPattern[]): boolean => {
  const host = url.hostname.toLowerCase();
  return patterns.some(
    (p) =>
      p.protocol === url.protocol &&
      p.port === url.port &&
      (p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host),
  );
};

// ---------------------------------------------------------------------------
// Reading the 451 answer

const KEY_HINT = /url|uri|href|host|location|endpoint|domain|region|redirect/i;
const TEXT_KEY = /message|description|detail|error|reason/i;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>()[\]{},;]+/gi;
const HOST_IN_TEXT = /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?\b/gi;
const MAX_DEPTH = 4;

/** `https://host/...`, `http://host/...` or a bare `host[:port][/path]` as a URL; else undefined. */
const toUrl = (value: string): URL | undefined => {
  const text = value.trim().replace(/[.,;:)]+$/, '');
  const withScheme = /^https?:\/\//i.test(text)
    ? text
    : /^(?:[a-z0-9-]+\.)+[a-z]{2,63}(?::\d{1,5})?(?:\/\S*)?$/i.test(text)
      ? `https://${text}`
      : undefined;
  if (withScheme === undefined) return undefined;
  try {
    const url = new URL(withScheme);
    return url.username === '' && url.password === '' ? url : undefined;
  } catch {
    return undefined;
  }
};

const urlsInText = (text: string): URL[] => {
  const out: URL[] = [];
  for (const m of text.matchAll(URL_IN_TEXT)) {
    const url = toUrl(m[0]);
    if (url) out.push(url);
  }
  // bare host names, once the URLs are taken out (their hosts are candidates already)
  for (const m of text.replace(URL_IN_TEXT, ' ').matchAll(HOST_IN_TEXT)) {
    const url = toUrl(m[0]);
    if (url) out.push(url);
  }
  return out;
};

const parseJsonOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Every place a 451 answer may name the region holding the org's data, most
 * explicit first, each origin once. Nothing here is trusted: the caller
 * follows a candidate only when it is on the allow-list.
 */
export const regionCandidates = (text: string, headers: Headers): URL[] => {
  const found: URL[] = [];
  for (const name of ['location', 'cisco-location', 'content-location']) {
    const value = headers.get(name);
    const url = value === null ? undefined : toUrl(value);
    if (url) found.push(url);
  }
  const json = parseJsonOrUndefined(text);
  const fromFields: URL[] = [];
  const fromText: URL[] = [];
  const walk = (value: unknown, key: string, depth: number): void => {
    if (typeof value === 'string') {
      const url = KEY_HINT.test(key) ? toUrl(value) : undefined;
      if (url) fromFields.push(url);
      else if (TEXT_KEY.test(key) || KEY_HINT.test(key)) fromText.push(...urlsInText(value));
      return;
    }
    if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, key, depth + 1);
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, k, depth + 1);
  };
  if (json !== undefined && typeof json === 'object') walk(json, '', 0);
  else if (text.trim() !== '') fromText.push(...urlsInText(text.slice(0, 4096)));
  found.push(...fromFields, ...fromText);
  const seen = new Set<string>();
  return found.filter((u) => {
    if (seen.has(u.origin)) return false;
    seen.add(u.origin);
    return true;
  });
};

/**
 * The base URL of the region a candidate names: its origin, plus the path
 * before `/v1/` when it names an API URL (`https://h/prefix/v1/partners/...`).
 */
export const regionBaseOf = (candidate: URL): URL => {
  const i = candidate.pathname.indexOf('/v1/');
  const base = new URL(candidate.origin);
  base.pathname = i > 0 ? candidate.pathname.slice(0, i) : '/';
  return base;
};

/** `url`'s API path (from `/v1/` on) and query, on the region's base URL. */
export const rebase = (url: URL, regionBase: URL): URL => {
  const i = url.pathname.indexOf('/v1/');
  const next = new URL(regionBase.origin);
  next.pathname = `${regionBase.pathname.replace(/\/+$/, '')}${i >= 0 ? url.pathname.slice(i) : url.pathname}`;
  next.search = url.search;
  return next;
};
