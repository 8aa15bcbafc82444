/**
 * `npm run bench`: every `bench:*` script of package.json, one after the other (they
 * share the machine, so never in parallel), then a summary table — target, measured
 * median, reference, ratio, pass/short — printed and written to BENCHMARKS.md
 * ("Summary (npm run bench)"; each script keeps writing its own detailed section).
 *
 *   npm run bench
 *   BENCH_SCRIPTS=bench:ingest,bench:api npm run bench     # a subset
 *
 * A script reports its rows through BENCH_RESULT_FILE (bench/support/harness.ts
 * reportSummary); for one that does not, the summary shows its exit status and the last
 * line of its output that names a target.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { load, markdownTable, ROOT, SummaryRow, writeSection } from './support/harness';

const ORDER = [
  'bench:ingest',
  'bench:api',
  'bench:cases',
  'bench:search',
  'bench:storage',
  'bench:audit',
];
/** Targets of scripts that do not report rows themselves. */
const TARGETS: Record<string, string> = {
  'bench:audit': 'P9',
  'bench:storage': 'P7, P8',
  'bench:cases': 'P5',
  'bench:search': 'P5',
};

interface Outcome {
  script: string;
  code: number;
  seconds: number;
  rows: SummaryRow[];
  lastTargetLine?: string;
}

function scripts(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const present = Object.keys(pkg.scripts).filter((name) => name.startsWith('bench:'));
  const wanted = process.env.BENCH_SCRIPTS?.split(',');
  return present
    .filter((name) => !wanted || wanted.includes(name))
    .sort((a, b) => {
      const rank = (name: string): number => {
        const i = ORDER.indexOf(name);
        return i === -1 ? ORDER.length : i;
      };
      return rank(a) - rank(b) || a.localeCompare(b);
    });
}

async function runScript(script: string): Promise<Outcome> {
  const resultFile = join(
    tmpdir(),
    `verbatim-bench-${process.pid}-${script.replace(':', '-')}.jsonl`,
  );
  rmSync(resultFile, { force: true });
  const started = performance.now();
  let lastTargetLine: string | undefined;
  let pending = '';
  const code = await new Promise<number>((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], {
      cwd: ROOT,
      env: { ...process.env, BENCH_RESULT_FILE: resultFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (/\bP\d\b/.test(line)) lastTargetLine = line.trim();
    });
    child.on('close', (status) => resolve(status ?? 1));
  });
  let rows: SummaryRow[] = [];
  try {
    rows = readFileSync(resultFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as SummaryRow);
  } catch {
    rows = [];
  }
  rmSync(resultFile, { force: true });
  return { script, code, seconds: (performance.now() - started) / 1000, rows, lastTargetLine };
}

async function main(): Promise<void> {
  const list = scripts();
  console.log(`npm run bench: ${list.join(', ')} (load ${load()})`);
  const outcomes: Outcome[] = [];
  for (const script of list) {
    console.log(`\n===== ${script} =====`);
    outcomes.push(await runScript(script));
  }
  const table: string[][] = [];
  for (const outcome of outcomes) {
    if (outcome.rows.length > 0) {
      for (const row of outcome.rows) {
        table.push([
          row.target,
          row.workload,
          row.goal,
          row.measured,
          row.reference,
          row.ratio,
          row.pass ? 'pass' : '**short**',
          `\`npm run ${outcome.script}\``,
        ]);
      }
    } else {
      const line = (outcome.lastTargetLine ?? '').replace(/\|/g, '/').slice(0, 160);
      table.push([
        TARGETS[outcome.script] ?? '?',
        `see its section of BENCHMARKS.md`,
        '',
        line || '—',
        '',
        '',
        outcome.code === 0 ? 'pass (exit 0)' : `**short / failed** (exit ${outcome.code})`,
        `\`npm run ${outcome.script}\``,
      ]);
    }
  }
  const markdown = markdownTable(
    [
      'target',
      'workload',
      'goal',
      'measured (median)',
      'reference (same run)',
      'ratio',
      'verdict',
      'command',
    ],
    table,
  );
  console.log(`\n${markdown}`);
  await writeSection(
    'Summary (npm run bench)',
    [
      `Command: \`${process.env.BENCH_SCRIPTS ? `BENCH_SCRIPTS=${process.env.BENCH_SCRIPTS} ` : ''}npm run bench\` — ran ${list.map((s) => `\`${s}\``).join(', ')} one after the other`,
      `(${outcomes.map((o) => `${o.script} ${o.seconds.toFixed(0)} s, exit ${o.code}`).join('; ')}).`,
      `Run ${new Date().toISOString()} on 2 cores (load average at the end ${load()}). Medians of each`,
      "script's repeated runs; references are measured side by side in the same run. Details, exact",
      "commands and caveats are in each script's own section below.",
      '',
      markdown,
    ].join('\n'),
  );
  if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
