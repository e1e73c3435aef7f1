/**
 * The checks of the docs test (docs-pages.test.ts), as functions of the
 * pages' text so the test can show each one failing: headings and their
 * anchors by GitHub's rules, relative links and the anchors they name, the
 * settings table of docs/configuration.md and the error-code table of
 * docs/contract.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** Lines outside fenced code blocks (``` or ~~~), with their line numbers. */
const proseLines = (markdown: string): { line: string; n: number }[] => {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (open !== undefined) {
      if (fence === undefined) fence = open[0];
      else if (open[0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, n: i + 1 });
  });
  return out;
};

/**
 * GitHub's heading anchors: the text lower-cased, every character but letters,
 * digits, spaces, `-` and `_` removed, spaces turned into `-`; a repeated
 * anchor gets `-1`, `-2`, ...
 */
export const githubAnchors = (markdown: string): Set<string> => {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(markdown)) {
    const text = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const slug = text
      .toLowerCase()
      .replaceAll(/[^\p{L}\p{N} _-]/gu, '')
      .replaceAll(' ', '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
};

/** Inline links `[text](target)` outside code blocks, with their line numbers. */
export const links = (markdown: string): { target: string; n: number }[] =>
  proseLines(markdown).flatMap(({ line, n }) =>
    [...line.replaceAll(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({
      target: m[1] ?? '',
      n,
    })),
  );

/**
 * Every relative link of `file` (a path from `root`) that leads nowhere: a
 * missing file, or an anchor that no heading of the target gives.
 * `read` returns a page's text (the test passes altered copies).
 */
export const brokenLinks = (
  root: string,
  file: string,
  read: (path: string) => string = (path) => readFileSync(join(root, path), 'utf8'),
): string[] => {
  const problems: string[] = [];
  for (const { target, n } of links(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#');
    const to = path === '' ? file : normalize(join(dirname(file), path));
    if (to.startsWith('..') || !existsSync(join(root, to))) {
      problems.push(`${file}:${n}: ${target}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!to.endsWith('.md') || statSync(join(root, to)).isDirectory()) {
      problems.push(`${file}:${n}: ${target}: an anchor into a file that is not Markdown`);
    } else if (!githubAnchors(read(to)).has(anchor)) {
      problems.push(`${file}:${n}: ${target}: ${to} has no heading #${anchor}`);
    }
  }
  return problems;
};

/** The table rows of a page: their cells, trimmed. */
const rows = (markdown: string): string[][] =>
  proseLines(markdown)
    .filter(({ line }) => line.startsWith('|'))
    .map(({ line }) =>
      line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((c) => c.trim()),
    );

/**
 * Settings without a row of their own in the settings table (first cell, in
 * backticks; `A` / `B` rows name two). A `<NAME>_FILE` twin counts as
 * documented when the row of `<NAME>` says `file` in its last column.
 */
export const undocumentedSettings = (
  page: string,
  settings: readonly string[],
  fromFile: readonly string[],
): string[] => {
  const named = new Map<string, string[]>();
  for (const cells of rows(page)) {
    for (const [, name = ''] of (cells[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) {
      named.set(name, cells);
    }
  }
  return settings.filter((s) => {
    if (named.has(s)) return false;
    const base = s.replace(/_FILE$/, '');
    return !(s !== base && fromFile.includes(base) && named.get(base)?.at(-1) === 'file');
  });
};

/**
 * Error codes missing from the error-code table (`| \`code\` | status | yes/no |`),
 * or documented with another status or retriable flag than the code gives them
 * (`—` for a code no HTTP answer carries).
 */
export const undocumentedCodes = (
  page: string,
  codes: readonly { code: string; status: number | null; retriable: boolean }[],
): string[] => {
  const table = new Map<string, string[]>();
  for (const cells of rows(page)) {
    const code = /^`([a-z_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (code !== undefined && cells.length === 3) table.set(code, cells);
  }
  return codes.flatMap(({ code, status, retriable }) => {
    const cells = table.get(code);
    if (cells === undefined) return [`${code}: no row`];
    const want = [status === null ? '—' : String(status), retriable ? 'yes' : 'no'];
    return cells[1] === want[0] && cells[2] === want[1]
      ? []
      : [`${code}: documented as ${cells[1]}, ${cells[2]}; the code says ${want.join(', ')}`];
  });
};
