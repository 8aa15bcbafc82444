/**
 * No regression on the hot read path: the app's CPU per authenticated GET /cases/:id (and a
 * single-turn POST) for an earlier commit and for this checkout, side by side in one run,
 * rounds interleaved (earlier, current, earlier, current, ...).
 *
 *   npm run bench:api-compare
 *   BENCH_BASELINE_REF=995585b BENCH_ROUNDS=3 BENCH_SECONDS=8 npm run bench:api-compare
 *
 * The earlier commit is checked out into a temporary git worktree (sharing this checkout's
 * node_modules) and each side runs its own `bench/support/cpu-per-request.ts`, which makes
 * its own database from its own migrations. CPU per request is read from /proc for the
 * server process, so it barely depends on what else the machine runs, unlike req/s.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load, markdownTable, median, writeSection } from './support/harness';

const ROOT = resolve(__dirname, '..');
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? '995585b';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);

interface Probe {
  cpuMs: number;
  rps: number;
  p99: number;
}

interface Side {
  get: Probe;
  post: Probe;
}

const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);

function parse(output: string, label: string): Probe {
  const line = output.split('\n').find((l) => l.startsWith(label));
  const match = line && /([\d.]+) ms CPU\/request, (\d+) req\/s, p99 ([\d.]+) ms/.exec(line);
  if (!match) throw new Error(`no "${label}" line in:\n${output}`);
  return { cpuMs: Number(match[1]), rps: Number(match[2]), p99: Number(match[3]) };
}

function probe(root: string): Promise<Side> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        'bench/support/cpu-per-request.ts',
        String(SECONDS),
        String(CONNECTIONS),
        'get,post',
      ],
      { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`probe in ${root} exited with ${code}:\n${output}`));
      try {
        done({ get: parse(output, 'GET /cases/:id'), post: parse(output, 'POST 1 turn') });
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

async function main(): Promise<void> {
  const baselineRoot = mkdtempSync(join(tmpdir(), 'verbatim-baseline-'));
  execFileSync('git', ['worktree', 'add', '--detach', baselineRoot, BASELINE_REF], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  symlinkSync(join(ROOT, 'node_modules'), join(baselineRoot, 'node_modules'));
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString();
  const sides: Record<'baseline' | 'current', Side[]> = { baseline: [], current: [] };
  const loads: string[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [side, root] of [
        ['baseline', baselineRoot],
        ['current', ROOT],
      ] as const) {
        loads.push(load());
        const result = await probe(root);
        sides[side].push(result);
        log(
          `round ${round} ${side}: GET ${result.get.cpuMs} ms CPU (${result.get.rps} req/s), ` +
            `POST ${result.post.cpuMs} ms CPU (${result.post.rps} req/s)`,
        );
      }
    }
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', baselineRoot], { cwd: ROOT });
  }
  const row = (name: string, pick: (r: Side) => Probe): string[] => {
    const before = sides.baseline.map(pick);
    const after = sides.current.map(pick);
    const b = median(before.map((p) => p.cpuMs));
    const a = median(after.map((p) => p.cpuMs));
    return [
      name,
      before.map((p) => p.cpuMs.toFixed(3)).join(', '),
      after.map((p) => p.cpuMs.toFixed(3)).join(', '),
      `${b.toFixed(3)} → ${a.toFixed(3)} ms (${(((a - b) / b) * 100).toFixed(0)} %)`,
      `${median(before.map((p) => p.rps))} → ${median(after.map((p) => p.rps))}`,
    ];
  };
  const table = markdownTable(
    [
      'request',
      `CPU ms/request, ${BASELINE_REF}`,
      `CPU ms/request, ${head.trim()}`,
      'median CPU per request',
      'median req/s',
    ],
    [row('GET /api/v1/cases/:id', (r) => r.get), row('POST one turn', (r) => r.post)],
  );
  await writeSection(
    'API before and after release 2 (issue 12: GET /cases/:id)',
    [
      `Command: \`npm run bench:api-compare\` (BENCH_BASELINE_REF=${BASELINE_REF}, ${ROUNDS} rounds,`,
      `${SECONDS} s per probe at ${CONNECTIONS} connections, rounds interleaved). Run ${new Date().toISOString()}.`,
      `Load average at each probe: ${loads.join('; ')}.`,
      '',
      table,
      '',
      "CPU per request is the server process's user + system time from /proc divided by the",
      'requests it answered: the measure of work on the request path that survives a shared',
      'machine; req/s is shown for completeness and follows the load.',
    ].join('\n'),
  );
  console.log(table);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
