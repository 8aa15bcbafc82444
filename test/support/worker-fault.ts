import type { Pool } from 'pg';
import { loginAsAdmin, Session, startApp, TestApp, userSession } from './app';
import {
  directPool,
  expectExactlyOnce,
  faultPrefix,
  persistedRows,
  PipelineProbe,
  ProbeTarget,
  range,
  RUN_REDIS_URL,
  sleep,
  waitFor,
} from './fault-pipeline';
import { stopAllWorkers, WorkerProcess } from './fault-worker';
import { createConversation } from './turns';

/** What a worker fault spec works with; filled in by its beforeAll. */
export interface WorkerFault {
  /** The file's own Redis prefix (faultPrefix). */
  readonly prefix: string;
  /** For startWorker(): the prefix, Redis (cluster) settings and a short reclaim. */
  workerEnv: Record<string, string>;
  /** The API, in this process, with WORKERS_ENABLED=false: it persists nothing. */
  api: TestApp;
  /** The run's database directly, never through the app. */
  pool: Pool;
  probe: PipelineProbe;
  /** A case worker's session and `count` new conversations of theirs. */
  conversations(count: number): Promise<{ session: Session; ids: string[] }>;
  /**
   * Freezes `worker` until it is caught holding unacknowledged entries with at least a
   * tenth but not all of `total` rows persisted, then SIGKILLs it: its batch may or may
   * not have committed, and it never acknowledged it. Returns what it held.
   */
  killMidBatch(
    worker: WorkerProcess,
    ids: string[],
    total: number,
    timeoutMs: number,
  ): Promise<{ rows: number; held: number }>;
  /**
   * Waits until `by` (a live worker) has persisted every turn, 1..perConversation of
   * each conversation, and the buffer is empty; then checks each is stored exactly once
   * and nothing is left in Redis. Resolves when the rows were all there (Date.now()).
   */
  expectAllPersistedOnce(
    ids: string[],
    perConversation: number,
    by: WorkerProcess,
    timeoutMs: number,
  ): Promise<number>;
}

export interface WorkerFaultOptions {
  /**
   * Starts what the processes share besides the run's Postgres and Redis (e.g. a Redis
   * Cluster); returns the environment the API, the workers and the probe use, and how to
   * stop it after them.
   */
  redis?: () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
}

/**
 * The setup the worker fault specs (test/fault) share: turns go in through an API in
 * this process that never persists, and are persisted only by real worker processes the
 * test starts with `workerEnv` (fault-worker.ts) and kills or stops; the outcome is read
 * around them (a direct pool, a probe on the buffer). Registers the file's beforeAll
 * and afterAll; the returned object is filled in when beforeAll has run.
 */
export function workerFault(tag: string, options: WorkerFaultOptions = {}): WorkerFault {
  const prefix = faultPrefix(tag);
  let stopRedis: () => Promise<void> = () => Promise.resolve();
  const fault: WorkerFault = {
    prefix,
    workerEnv: {},
    api: undefined as unknown as TestApp,
    pool: undefined as unknown as Pool,
    probe: undefined as unknown as PipelineProbe,
    async conversations(count) {
      const admin = await loginAsAdmin(fault.api.http);
      const session = await userSession(fault.api.http, admin, 'case_worker');
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1)
        ids.push((await createConversation(fault.api.http, session)).id);
      return { session, ids };
    },
    async killMidBatch(worker, ids, total, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const rows = await persistedRows(fault.pool, ids);
        if (rows >= total / 10) {
          worker.signal('SIGSTOP');
          const held = (await fault.probe.pendingByConsumer())[worker.consumer] ?? 0;
          const rowsNow = await persistedRows(fault.pool, ids);
          if (held > 0 && rowsNow < total) {
            worker.signal('SIGKILL');
            return { rows: rowsNow, held };
          }
          worker.signal('SIGCONT');
        }
        await sleep(rows >= total / 10 ? 5 : 50);
      }
      throw new Error(`never caught the worker mid-batch:\n${worker.output()}`);
    },
    async expectAllPersistedOnce(ids, perConversation, by, timeoutMs) {
      const total = ids.length * perConversation;
      await waitFor(
        () => persistedRows(fault.pool, ids),
        (rows) => rows >= total,
        timeoutMs,
        (rows) => `${rows}/${total} rows persisted\n${by.output()}`,
        250,
      );
      const persistedAt = Date.now();
      await waitFor(
        () => fault.probe.bufferLength(),
        (length) => length === 0,
        10_000,
        (length) => `${length} entries left in the buffer`,
      );
      await expectExactlyOnce(
        fault.pool,
        new Map(ids.map((id) => [id, range(1, perConversation)])),
      );
      await fault.probe.expectDrained(ids);
      return persistedAt;
    },
  };

  beforeAll(async () => {
    let env: Record<string, string> = {};
    if (options.redis) {
      const started = await options.redis();
      env = started.env;
      stopRedis = started.stop;
    }
    fault.workerEnv = { ...env, REDIS_PREFIX: prefix, TURN_RECLAIM_IDLE_MS: '2000' };
    fault.api = await startApp({ ...env, WORKERS_ENABLED: 'false', REDIS_PREFIX: prefix });
    fault.pool = directPool();
    const target: ProbeTarget = {
      redisUrl: env.REDIS_URL ?? RUN_REDIS_URL,
      clusterNodes: env.REDIS_CLUSTER_NODES,
    };
    fault.probe = new PipelineProbe(target, prefix);
  }, 60_000);

  afterAll(async () => {
    await stopAllWorkers();
    await fault.probe?.close();
    await fault.pool?.end();
    await fault.api?.close();
    await stopRedis();
  });

  return fault;
}
