import { ChildProcess, spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const OUTPUT_LINES = 200;

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the process exited (Date.now()). */
  at: number;
}

/**
 * A real worker process (`src/worker.ts` under ts-node, as `npm run start:worker` runs
 * the built one): its own Node process, its own Postgres pool and Redis connections,
 * and its own stream consumer name, so it can be killed for real.
 */
export interface WorkerProcess {
  readonly pid: number;
  /** Its consumer name in the `persisters` group (TurnPersistenceService.consumer). */
  readonly consumer: string;
  /** Resolves once the worker logged that it started; rejects if it died first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  alive(): boolean;
  signal(signal: NodeJS.Signals): void;
  /** The last lines it printed, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
  stop(graceMs?: number): Promise<WorkerExit>;
}

const running = new Set<WorkerProcess>();

/**
 * Starts `node -r ts-node/register/transpile-only src/worker.ts` with the test run's
 * environment plus `env` (which wins). Logs at info so readiness can be seen.
 */
export function spawnWorker(env: Record<string, string> = {}): WorkerProcess {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'src/worker.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', WORKERS_ENABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error('could not spawn the worker process');
  const pid = child.pid;
  const lines: string[] = [];
  let exit: WorkerExit | undefined;
  let onStarted: () => void = () => undefined;
  let onDied: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onStarted = resolve;
    onDied = reject;
  });
  const collect = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > OUTPUT_LINES) lines.shift();
      if (line.includes('"worker started"')) onStarted();
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<WorkerExit>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      running.delete(worker);
      onDied(new Error(`worker ${pid} exited (${signal ?? code}) before it started:\n${output()}`));
      resolve(exit);
    });
  });
  const output = (): string => lines.join('\n');
  const worker: WorkerProcess = {
    pid,
    consumer: `${hostname()}-${pid}`,
    ready,
    exited,
    alive: () => exit === undefined,
    signal(signal) {
      if (exit === undefined) process.kill(pid, signal);
    },
    output,
    async stop(graceMs = 10_000) {
      if (exit !== undefined) return exit;
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => worker.signal('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  // Nothing else awaits `ready` when a test fails early; keep that from being unhandled.
  ready.catch(() => undefined);
  running.add(worker);
  return worker;
}

/** Starts a worker and waits until it is consuming. */
export async function startWorker(
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<WorkerProcess> {
  const worker = spawnWorker(env);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      worker.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`worker ${worker.pid} not ready in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await worker.stop(1000);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return worker;
}

/** For afterAll: no worker outlives its test file. */
export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...running].map((worker) => worker.stop(5000)));
}
