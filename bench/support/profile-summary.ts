/**
 * Summarises a .cpuprofile: self time by function and by package (or src/ file).
 *
 *   npx ts-node -T bench/support/profile-summary.ts /tmp/prof/app-123.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function owner(url: string): string {
  if (!url) return '(native/idle)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/work\/main\/(.+)$/.exec(url.replace('file://', ''));
  if (src) return src[1]!;
  return url.startsWith('node:') ? url : url.replace('file://', '');
}

const [file, topArg] = process.argv
  .slice(2)
  .filter((a, i, all) => a !== '--callers' && all[i - 1] !== '--callers');
if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topArg ?? 30);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) =>
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
);
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byOwner = new Map<string, number>();
for (const [id, time] of self) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + time);
  byOwner.set(owner(url), (byOwner.get(owner(url)) ?? 0) + time);
}
const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((time / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
};
print('self time by package / file', byOwner);
print('self time by function', byFunction);

// `--callers <functionName>`: where the self time of that function comes from.
const callersIndex = process.argv.indexOf('--callers');
if (callersIndex > 0) {
  const name = process.argv[callersIndex + 1]!;
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const chains = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName !== name) continue;
    const chain: string[] = [];
    for (let p = parent.get(id); p !== undefined && chain.length < 6; p = parent.get(p)) {
      const frame = byId.get(p)!.callFrame;
      chain.push(`${frame.functionName || '(anon)'}@${owner(frame.url)}:${frame.lineNumber + 1}`);
    }
    const key = chain.join(' < ');
    chains.set(key, (chains.get(key) ?? 0) + time);
  }
  print(`callers of ${name}`, chains);
}

// `--inclusive`: functions by inclusive time (self + callees), from src/ and a few frameworks.
if (process.argv.includes('--inclusive')) {
  const totalOf = new Map<number, number>();
  const visit = (id: number): number => {
    const node = byId.get(id)!;
    let sum = self.get(id) ?? 0;
    for (const child of node.children ?? []) sum += visit(child);
    totalOf.set(id, sum);
    return sum;
  };
  const root = profile.nodes[0]!;
  visit(root.id);
  const inclusive = new Map<string, number>();
  const walk = (id: number, seen: Set<string>): void => {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`;
    const fresh = !seen.has(key);
    if (fresh) inclusive.set(key, (inclusive.get(key) ?? 0) + totalOf.get(id)!);
    const next = fresh ? new Set(seen).add(key) : seen;
    for (const child of node.children ?? []) walk(child, next);
  };
  walk(root.id, new Set());
  const filter = process.argv[process.argv.indexOf('--inclusive') + 1];
  const picked = new Map(
    [...inclusive].filter(([key]) =>
      filter && !filter.startsWith('-') ? key.includes(filter) : true,
    ),
  );
  print('inclusive time by function', picked);
}
