import { loginAsAdmin, startApp, TestApp, userSession } from '../support/app';
import {
  directPool,
  envInt,
  expectExactlyOnce,
  faultPrefix,
  ingestAll,
  Ingestor,
  persistedRows,
  PipelineProbe,
  planBatches,
  range,
  report,
  sleep,
  RUN_REDIS_URL,
  waitFor,
} from '../support/fault-pipeline';
import { startWorker, stopAllWorkers, WorkerProcess } from '../support/fault-worker';
import { createConversation } from '../support/turns';
import type { Pool } from 'pg';

/**
 * TARGETS R1: `kill -9` of the worker process in the middle of persisting 100k turns,
 * then a new worker: every accepted turn ends up in Postgres exactly once.
 *
 * The API runs in this process with WORKERS_ENABLED=false; persistence happens only in
 * a separate worker process (src/worker.ts), which is frozen (SIGSTOP) at a moment it
 * holds delivered-but-unacknowledged entries and rows already exist, then SIGKILLed:
 * its batch may or may not have committed, and it never acknowledged it.
 */
describe('R1: kill -9 of the worker in the middle of persisting', () => {
  const TOTAL = envInt('FAULT_R1_TURNS', 100_000);
  const CONVERSATIONS = 4;
  const BATCH = 1000;
  const prefix = faultPrefix('r1');
  const workerEnv = { REDIS_PREFIX: prefix, TURN_RECLAIM_IDLE_MS: '2000' };
  let api: TestApp;
  let pool: Pool;
  let probe: PipelineProbe;

  beforeAll(async () => {
    api = await startApp({ WORKERS_ENABLED: 'false', REDIS_PREFIX: prefix });
    pool = directPool();
    probe = new PipelineProbe(RUN_REDIS_URL, prefix);
  });

  afterAll(async () => {
    await stopAllWorkers();
    await probe?.close();
    await pool?.end();
    await api?.close();
  });

  /**
   * Freezes the worker until it is caught holding unacknowledged entries with some but
   * not all rows persisted, then kills it. Returns what it held.
   */
  async function killMidBatch(
    worker: WorkerProcess,
    ids: string[],
  ): Promise<{ rows: number; held: number }> {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const rows = await persistedRows(pool, ids);
      if (rows >= TOTAL / 10) {
        worker.signal('SIGSTOP');
        const held = (await probe.pendingByConsumer())[worker.consumer] ?? 0;
        const rowsNow = await persistedRows(pool, ids);
        if (held > 0 && rowsNow < TOTAL) {
          worker.signal('SIGKILL');
          return { rows: rowsNow, held };
        }
        worker.signal('SIGCONT');
      }
      await sleep(rows >= TOTAL / 10 ? 5 : 50);
    }
    throw new Error(`never caught the worker mid-batch:\n${worker.output()}`);
  }

  it(`persists all ${TOTAL} accepted turns exactly once after the worker is killed`, async () => {
    const started = Date.now();
    const firstStarting = startWorker(workerEnv);
    const admin = await loginAsAdmin(api.http);
    const session = await userSession(api.http, admin, 'case_worker');
    const ids: string[] = [];
    for (let i = 0; i < CONVERSATIONS; i += 1)
      ids.push((await createConversation(api.http, session)).id);
    const first = await firstStarting;
    const booted = Date.now();

    const ingestor = new Ingestor(api.http, session.auth);
    const ingesting = ingestAll(ingestor, planBatches(ids, TOTAL / CONVERSATIONS, BATCH), 2);
    const killed = await killMidBatch(first, ids);
    const exit = await first.exited;
    const killedAt = Date.now();
    expect(exit.signal).toBe('SIGKILL');
    // The dead consumer still owns the entries it was given and never acknowledged.
    expect((await probe.pendingByConsumer())[first.consumer]).toBe(killed.held);

    // The replacement boots while ingestion goes on; it reclaims the dead one's entries.
    const secondStarting = startWorker(workerEnv);
    await ingesting;
    const ingested = Date.now();
    // The API never depended on the worker: every batch was accepted.
    expect(ingestor.statuses()).toEqual({ 202: TOTAL / BATCH });
    expect(ingestor.ackedCount()).toBe(TOTAL);

    const second = await secondStarting;
    await waitFor(
      () => persistedRows(pool, ids),
      (rows) => rows >= TOTAL,
      90_000,
      (rows) => `${rows}/${TOTAL} rows persisted\n${second.output()}`,
      250,
    );
    const drained = Date.now();
    await waitFor(
      () => probe.bufferLength(),
      (length) => length === 0,
      10_000,
      (length) => `${length} entries left in the buffer`,
    );

    await expectExactlyOnce(pool, new Map(ids.map((id) => [id, range(1, TOTAL / CONVERSATIONS)])));
    await probe.expectDrained(ids);
    expect(second.alive()).toBe(true);
    report(
      `R1: ${TOTAL} turns; worker boot ${booted - started} ms; killed with ${killed.rows} rows ` +
        `persisted and ${killed.held} entries unacknowledged; ingestion done ` +
        `${ingested - booted} ms after start; all persisted ${drained - killedAt} ms after the kill`,
    );
  }, 180_000);
});
