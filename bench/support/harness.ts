/**
 * Shared plumbing of the benchmarks: a throwaway database and Redis prefix per run, the
 * real app (and a bare framework app) in child processes on loopback, load generation
 * with autocannon, statistics and the BENCHMARKS.md section writer.
 *
 * The servers run in their own processes so the load generator never shares an event
 * loop with the code it measures (each process is started the same way, with ts-node in
 * transpile-only mode: after boot the code runs exactly as compiled JavaScript would).
 */
import 'reflect-metadata';
import autocannon from 'autocannon';
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '../../src/core/database/database-options';
import { seedDatabase } from '../../test/support/seed-fixture';

export const ROOT = join(__dirname, '..', '..');
export const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');

export const BENCH_ADMIN = {
  username: 'bench-admin',
  email: 'bench-admin@verbatim.local',
  password: 'bench-admin-password-1',
};

// --- statistics ----------------------------------------------------------------------

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Nearest-rank percentile (p in 0..100) of raw samples. */
export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
};

export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : String(value);

export const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

// --- throwaway database and Redis prefix ------------------------------------------------

export interface BenchRun {
  id: string;
  serverUrl: string;
  databaseName: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
}

export function planBenchRun(tag: string): BenchRun {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const configured = new URL(
    process.env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
  );
  const server = new URL(configured.toString());
  server.pathname = '/postgres';
  const databaseName = `verbatim_bench_${tag}_${id}`;
  const database = new URL(configured.toString());
  database.pathname = `/${databaseName}`;
  return {
    id,
    serverUrl: server.toString(),
    databaseName,
    databaseUrl: database.toString(),
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    redisPrefix: `vbench-${tag}-${id}`,
  };
}

/** Creates, migrates and seeds the run's database (with the bench admin). */
export async function createBenchDatabase(run: BenchRun): Promise<void> {
  const admin = new Client({ connectionString: run.serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${run.databaseName}"`);
  } finally {
    await admin.end();
  }
  const dataSource = new DataSource(databaseOptions({ url: run.databaseUrl, poolSize: 2 }));
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
    await seedDatabase(dataSource, BENCH_ADMIN);
  } finally {
    await dataSource.destroy();
  }
}

/** Drops the run's database and deletes every Redis key under its prefix (and nothing else). */
export async function destroyBenchRun(run: BenchRun): Promise<void> {
  const admin = new Client({ connectionString: run.serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${run.databaseName}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  rmSync(join(ROOT, '.data', `bench-${run.id}`), { recursive: true, force: true });
  const redis = new Redis(run.redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${run.redisPrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** The environment of the app and worker processes of a run. */
export function benchEnvironment(
  run: BenchRun,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
    DATABASE_URL: run.databaseUrl,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL: run.redisUrl,
    REDIS_PREFIX: run.redisPrefix,
    JWT_ALGORITHM: 'HS256',
    JWT_SECRET: `bench-secret-${run.id}-${'x'.repeat(32)}`,
    ACCESS_TOKEN_TTL_SECONDS: '86400',
    // The per-user rate limit would turn the load into 429s; everything else is the default.
    RATE_LIMIT_MAX: '100000000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    LOG_FILE: process.env.BENCH_LOG_FILE ?? '/dev/null',
    ADMIN_USERNAME: BENCH_ADMIN.username,
    ADMIN_EMAIL: BENCH_ADMIN.email,
    ADMIN_PASSWORD: BENCH_ADMIN.password,
    STORAGE_LOCAL_ROOT: join(ROOT, '.data', `bench-${run.id}`),
    ...overrides,
    ...extraAppEnvironment(),
  };
}

/**
 * BENCH_APP_ENV="TURN_BATCH_SIZE=2000 TURN_FLUSH_DELAY_MS=100": settings for the app and
 * worker processes of an experiment, over the bench's own.
 */
function extraAppEnvironment(): Record<string, string> {
  const pairs = (process.env.BENCH_APP_ENV ?? '').split(' ').filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`BENCH_APP_ENV: "${pair}" is not NAME=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

// --- child processes --------------------------------------------------------------------

export interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Forks `entry` (a bench/support/*.ts file) with ts-node in transpile-only mode and
 * waits for its `{ ready, port? }` message. Extra node flags (e.g. `--cpu-prof`) come
 * from BENCH_NODE_FLAGS.
 */
export async function startProcess(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
  root = ROOT,
): Promise<Server> {
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = fork(join(root, 'bench', 'support', entry), [], {
    cwd: root,
    env: {
      ...env,
      ...(process.env.BENCH_CPU_PROF ? { BENCH_CPU_PROF: process.env.BENCH_CPU_PROF } : {}),
    },
    execArgv: ['-r', 'ts-node/register/transpile-only', ...flags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start`)), timeoutMs);
    child.once('message', (message: { ready: boolean; port?: number }) => {
      clearTimeout(timer);
      resolve(message.port ?? 0);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before it was ready`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (process.env.BENCH_CPU_PROF) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 30_000);
          child.on('message', (message: { profileWritten?: boolean }) => {
            if (message.profileWritten) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.send({ stopProfile: true });
        });
      }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

/** The real app (createApp, as production builds it) listening on a loopback port. */
export const startApp = (env: Record<string, string>, root = ROOT): Promise<Server> =>
  startProcess('app-server.ts', env, 180_000, root);

/** A worker process (WorkerModule, as `npm run start:worker` runs it). */
export const startWorker = (env: Record<string, string>, root = ROOT): Promise<Server> =>
  startProcess('worker-server.ts', env, 180_000, root);

/** A bare NestJS app on the same Fastify adapter with constant routes only. */
export const startBareApp = (): Promise<Server> =>
  startProcess('bare-server.ts', {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
  });

// --- HTTP helpers -------------------------------------------------------------------------

export async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<T> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function login(base: string, username: string, password: string): Promise<string> {
  const body = await api<{ accessToken: string }>(base, 'POST', '/auth/login', {
    login: username,
    password,
  });
  return body.accessToken;
}

export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/** Runs autocannon and reduces its result to what the reports need. */
export async function cannon(options: autocannon.Options): Promise<LoadResult> {
  // autocannon notices that `amount` requests are done only at its next sample tick
  // (1 s by default), which rounded every fixed-amount run up to whole seconds.
  const sampleInt = options.amount ? 20 : undefined;
  const result = await autocannon({ ...options, timeout: 30, ...(sampleInt ? { sampleInt } : {}) });
  const latency = result.latency as unknown as Record<string, number>;
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    latency: {
      p50: latency.p50 ?? NaN,
      p90: latency.p90 ?? NaN,
      p99: latency.p99 ?? NaN,
      max: latency.max ?? NaN,
      mean: latency.mean ?? NaN,
    },
  };
}

// --- reporting ------------------------------------------------------------------------------

/** One line of the `npm run bench` summary table. */
export interface SummaryRow {
  target: string;
  workload: string;
  goal: string;
  measured: string;
  reference: string;
  ratio: string;
  pass: boolean;
}

/** Appends rows for `npm run bench` when it asked for them (BENCH_RESULT_FILE). */
export async function reportSummary(rows: SummaryRow[]): Promise<void> {
  const file = process.env.BENCH_RESULT_FILE;
  if (!file) return;
  await appendFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Replaces (or appends) the `## title` section of BENCHMARKS.md, leaving the others alone. */
export async function writeSection(title: string, body: string): Promise<void> {
  const heading = `## ${title}`;
  const section = `${heading}\n\n${body.trim()}\n`;
  const current = existsSync(BENCHMARKS_FILE)
    ? await readFile(BENCHMARKS_FILE, 'utf8')
    : '# Benchmarks\n';
  const lines = current.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    // The next section starts at its heading, or at the marker comment some sections open with.
    let end = lines.findIndex(
      (line, i) => i > start && (line.startsWith('## ') || /^<!-- [\w-]+:start -->$/.test(line)),
    );
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join('\n').trimEnd();
    const after = lines.slice(end).join('\n').trim();
    next = `${before}\n\n${section}${after ? `\n${after}\n` : ''}`;
  }
  await writeFile(BENCHMARKS_FILE, next.endsWith('\n') ? next : `${next}\n`);
}

export function markdownTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

// --- CPU accounting (robust to a noisy machine: CPU seconds do not include waiting) -------

const TICKS_PER_SECOND = 100;

/** User + system CPU seconds consumed so far by process `pid` (0 when it is gone). */
/** A load run plus the CPU the measured server process spent per request (noise-free). */
export type Measured = LoadResult & { cpuMsPerRequest: number };

/** Runs `options` against `server` and divides the server process's CPU by the requests. */
export async function measured(server: Server, options: autocannon.Options): Promise<Measured> {
  const before = cpuSeconds(server.child.pid);
  const result = await cannon(options);
  const cpu = cpuSeconds(server.child.pid) - before;
  return { ...result, cpuMsPerRequest: (cpu * 1000) / Math.max(1, result.requests) };
}

export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU seconds of the Postgres backends serving `database`, and of the Redis server. */
export async function serviceCpu(
  pg: Client,
  database: string,
  redis: Redis,
): Promise<{
  postgres: number;
  redis: number;
}> {
  const { rows } = await pg.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1',
    [database],
  );
  const info = await redis.info('cpu');
  const used = (name: string): number =>
    Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return {
    postgres: rows.reduce((sum, row) => sum + cpuSeconds(row.pid), 0),
    redis: used('used_cpu_user') + used('used_cpu_sys'),
  };
}

// --- the code of another commit, side by side with this tree ------------------------------

/**
 * A temporary git worktree of `ref` (detached) sharing this tree's node_modules, for a
 * benchmark that runs the code of `ref` and the current code in the same run.
 */
export function checkoutRef(ref: string): { root: string; commit: string; remove(): void } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  const root = join(tmpdir(), `verbatim-bench-${commit.slice(0, 12)}-${process.pid}`);
  execFileSync('git', ['worktree', 'add', '--detach', root, commit], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(root, 'node_modules'));
  return {
    root,
    commit,
    remove() {
      execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: ROOT, stdio: 'ignore' });
    },
  };
}

/** createBenchDatabase as the tree at `root` does it: its migrations, its seed. */
export function createBenchDatabaseIn(root: string, run: BenchRun): void {
  execFileSync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-e',
      `require('./bench/support/harness').createBenchDatabase(JSON.parse(process.env.BENCH_RUN))
         .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`,
    ],
    { cwd: root, env: { ...process.env, BENCH_RUN: JSON.stringify(run) }, stdio: 'inherit' },
  );
}
