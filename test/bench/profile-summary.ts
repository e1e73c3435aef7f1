/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went:
 * self time by function and by script (top 25 each), as a Markdown table.
 *
 *   node test/bench/profile-summary.ts bench/profile/CPU.*.cpuprofile
 */
import { readFileSync } from 'node:fs';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
};
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile>');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const top = (key: (n: ProfileNode) => string) => {
  const sums = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node !== undefined) sums.set(key(node), (sums.get(key(node)) ?? 0) + us);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, 25);
};

const short = (url: string) =>
  url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/') || '(native)';
const print = (title: string, rows: [string, number][]) => {
  console.log(`\n| ${title} | ms | % |\n|---|---:|---:|`);
  for (const [name, us] of rows) {
    console.log(`| ${name} | ${Math.round(us / 1000)} | ${((100 * us) / total).toFixed(1)} |`);
  }
};
console.log(`total sampled: ${Math.round(total / 1000)} ms`);
print(
  'function (self time)',
  top(
    (n) =>
      `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`,
  ),
);
print(
  'script (self time)',
  top((n) => short(n.callFrame.url)),
);
