/**
 * @module reconciler/webex/headers
 * What Webex says in response headers: the pagination of `cdrcountbyorg`
 * (header names not public, so matched tolerantly), the `Link: <...>;
 * rel="next"` of `cdrsbyorg`, and the `Retry-After` of a 429. Pure functions.
 */

/** The wait of a 429 without a readable `Retry-After`. */
const DEFAULT_RETRY_AFTER_MS = 60_000;

export type Pagination = {
  pageCount?: number;
  totalOrgs?: number;
  currentPage?: number;
  /** Header names that look like pagination but were not understood. */
  unrecognised: string[];
};

const normaliseHeaderName = (name: string): string =>
  name
    .toLowerCase()
    .replace(/^x[-_]/, '')
    .replace(/[-_]/g, '');

const PAGE_COUNT_NAMES = new Set([
  'pagecount',
  'pagescount',
  'totalpages',
  'totalpagecount',
  'pagestotal',
  'numberofpages',
  'numpages',
  'pages',
]);
const TOTAL_ORGS_NAMES = new Set([
  'totalorgcount',
  'totalorgscount',
  'totalorgs',
  'totalorganizations',
  'totalorganisations',
  'totalorganizationcount',
  'totalorganisationcount',
  'orgcount',
  'orgscount',
  'organizationcount',
  'totalcount',
  'totalitems',
  'totalresults',
  'total',
]);
const CURRENT_PAGE_NAMES = new Set(['currentpage', 'page', 'pagenumber', 'pagenum', 'curpage']);
const PAGINATION_HINT = /page|pagina|total|count|org|next|link|cursor|offset/;

/**
 * Reads the page count, total orgs and current page of a `cdrcountbyorg`
 * response from headers whose names are not public: compared
 * case-insensitively, ignoring a leading `x-` and every `-` and `_`
 * (`X-Page-Count`, `Total-Pages`, `numberOfPages`, `X-Total-Org-Count`, ...).
 */
export const parsePagination = (
  headers: Headers | Iterable<[string, string]> | Record<string, string>,
): Pagination => {
  const entries =
    headers instanceof Headers || Symbol.iterator in headers
      ? [...(headers as Iterable<[string, string]>)]
      : Object.entries(headers);
  const result: Pagination = { unrecognised: [] };
  for (const [name, value] of entries) {
    const key = normaliseHeaderName(name);
    const trimmed = value.trim();
    const n = /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
    const field = PAGE_COUNT_NAMES.has(key)
      ? 'pageCount'
      : TOTAL_ORGS_NAMES.has(key)
        ? 'totalOrgs'
        : CURRENT_PAGE_NAMES.has(key)
          ? 'currentPage'
          : undefined;
    if (field !== undefined && n !== undefined && Number.isSafeInteger(n)) {
      result[field] = n;
    } else if (PAGINATION_HINT.test(key)) {
      result.unrecognised.push(name);
    }
  }
  return result;
};

/** The `rel="next"` target of a `Link` header, or undefined. */
export const parseNextLink = (link: string | null | undefined): string | undefined => {
  if (!link) return undefined;
  for (const match of link.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const [, target, params = ''] = match;
    for (const param of params.split(';')) {
      const rel = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (rel?.[1]?.toLowerCase().split(/\s+/).includes('next')) return target;
    }
  }
  return undefined;
};

/**
 * How long a 429 asks us to wait: `Retry-After` in seconds or as an HTTP date;
 * 60 s when missing or unreadable.
 */
export const parseRetryAfter = (value: string | null | undefined, now: number): number => {
  const text = value?.trim() ?? '';
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (text !== '' && !Number.isNaN(date)) return Math.max(0, date - now);
  return DEFAULT_RETRY_AFTER_MS;
};

/** The headers of an answer for a debug line, without cookies. */
export const loggableHeaders = (headers: Headers): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (name !== 'set-cookie') out[name] = value;
  return out;
};
