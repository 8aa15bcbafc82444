import type { Pool } from 'pg';
import { loginAsAdmin, startApp, TestApp, userSession } from '../support/app';
import {
  directPool,
  envInt,
  expectExactlyOnce,
  faultPrefix,
  Ingestor,
  PipelineProbe,
  range,
  report,
  sleep,
  waitFor,
} from '../support/fault-pipeline';
import { AofRedis } from '../support/fault-redis';
import { startWorker, stopAllWorkers, WorkerProcess } from '../support/fault-worker';
import { createConversation } from '../support/turns';

/**
 * TARGETS R3: Redis restarted (SHUTDOWN, then a new server on the same AOF directory)
 * while turns are being ingested. Every turn acknowledged with 202 before the restart
 * ends up in Postgres, exactly once. Requests during the restart may fail with 5xx, but
 * a 202 is never followed by a loss; a client that re-sends its failed batches ends
 * with every turn stored once.
 *
 * The app and a worker process use a private redis-server (AofRedis) with the
 * production durability settings: appendonly yes, appendfsync always.
 */
describe('R3: Redis restart with AOF during ingestion', () => {
  const DOWN_MS = envInt('FAULT_REDIS_DOWN_MS', 1000);
  const BATCH = 100;
  const TICK_MS = 50;
  const prefix = faultPrefix('r3');
  let redis: AofRedis;
  let api: TestApp;
  let worker: WorkerProcess;
  let pool: Pool;
  let probe: PipelineProbe;

  beforeAll(async () => {
    redis = await AofRedis.start();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    const workerStarting = startWorker({ ...env, TURN_RECLAIM_IDLE_MS: '2000' });
    api = await startApp({ ...env, WORKERS_ENABLED: 'false' });
    worker = await workerStarting;
    pool = directPool();
    probe = new PipelineProbe(redis.url, prefix);
  });

  afterAll(async () => {
    await stopAllWorkers();
    await probe?.close();
    await pool?.end();
    await api?.close();
    await redis?.stop();
  });

  it.each([
    { worker: 'draining', freeze: false },
    { worker: 'lagging (frozen 1.5 s before, thawed after)', freeze: true },
  ])(
    'keeps every turn acknowledged before the restart, worker $worker',
    async ({ freeze }) => {
      const admin = await loginAsAdmin(api.http);
      const session = await userSession(api.http, admin, 'case_worker');
      const ids = [
        (await createConversation(api.http, session)).id,
        (await createConversation(api.http, session)).id,
      ];
      const ingestor = new Ingestor(api.http, session.auth);
      const next = new Map(ids.map((id) => [id, 1]));
      let ingesting = true;
      const steady = (async () => {
        for (let i = 0; ingesting; i += 1) {
          const id = ids[i % ids.length]!;
          const from = next.get(id)!;
          next.set(id, from + BATCH);
          await ingestor.post(id, range(from, from + BATCH - 1));
          await sleep(TICK_MS);
        }
      })();

      let shutdownAt = 0;
      let backAt = 0;
      let backlogAtShutdown = 0;
      let ackedBeforeRestart = new Map<string, Set<number>>();
      try {
        await sleep(2000);
        // A lagging worker leaves many acknowledged turns unpersisted (some of them
        // delivered to it and not acknowledged) for the restart to carry over.
        if (freeze) worker.signal('SIGSTOP');
        await sleep(freeze ? 1500 : 0);
        // Restart while the buffer holds acknowledged turns not yet persisted.
        backlogAtShutdown = await waitFor(
          () => probe.bufferLength(),
          (length) => length > 0,
          5000,
          () => 'the buffer never held anything',
          5,
        );
        shutdownAt = Date.now();
        ackedBeforeRestart = ingestor.acked();
        await redis.restart(DOWN_MS);
        backAt = Date.now();
        worker.signal('SIGCONT');
        await sleep(4000);
      } finally {
        worker.signal('SIGCONT');
        ingesting = false;
        await steady;
      }

      // Only 202 or a server-side refusal (5xx) while Redis was away; never a 4xx.
      const statuses = ingestor.statuses();
      for (const status of Object.keys(statuses).map(Number))
        expect(status === 202 || (status >= 500 && status < 600)).toBe(true);
      // The app came back by itself: the requests of the last seconds all got 202.
      const late = ingestor.outcomes.filter((o) => o.startedAt > backAt + 2500);
      expect(late.length).toBeGreaterThan(0);
      expect(late.filter((o) => o.status !== 202)).toEqual([]);

      // Every 202 (before, during or after the restart) is persisted, once.
      await waitFor(
        async () => ({
          buffer: await probe.bufferLength(),
          pending: await probe.pendingByConsumer(),
        }),
        (state) => state.buffer === 0 && Object.keys(state.pending).length === 0,
        30_000,
        (state) => `buffer not drained: ${JSON.stringify(state)}\n${worker.output()}`,
        200,
      );
      const acked = ingestor.acked();
      const { rows } = await pool.query<{ conversation_id: string; n: number }>(
        'SELECT conversation_id, message_number AS n FROM turns WHERE conversation_id = ANY($1::uuid[])',
        [ids],
      );
      const stored = new Map(ids.map((id) => [id, new Set<number>()]));
      for (const row of rows) stored.get(row.conversation_id)!.add(row.n);
      for (const id of ids) {
        const lostBeforeRestart = [...(ackedBeforeRestart.get(id) ?? [])].filter(
          (n) => !stored.get(id)!.has(n),
        );
        const lost = [...(acked.get(id) ?? [])].filter((n) => !stored.get(id)!.has(n));
        expect({ lostBeforeRestart, lost }).toEqual({ lostBeforeRestart: [], lost: [] });
      }

      // The client re-sends what failed; then every turn it ever sent is stored once.
      const failed = ingestor.outcomes.filter((o) => o.status !== 202);
      for (const outcome of failed) {
        const retry = await ingestor.post(outcome.conversationId, outcome.numbers);
        expect(retry.status).toBe(202);
      }
      const sent = new Map(ids.map((id) => [id, range(1, next.get(id)! - 1)]));
      const total = [...sent.values()].reduce((sum, numbers) => sum + numbers.length, 0);
      await waitFor(
        async () =>
          (
            await pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM turns WHERE conversation_id = ANY($1::uuid[])',
              [ids],
            )
          ).rows[0]!.n,
        (n) => n >= total,
        30_000,
        (n) => `${n}/${total} rows after the client's retries`,
        200,
      );
      await expectExactlyOnce(pool, sent);
      await probe.expectDrained(ids);
      expect(worker.alive()).toBe(true);
      report(
        `R3 (${freeze ? 'lagging' : 'draining'} worker): Redis down ${backAt - shutdownAt} ms (SHUTDOWN to PONG) with ${backlogAtShutdown} ` +
          `unpersisted turns in the buffer; ${ingestor.outcomes.length - failed.length} requests, ` +
          `statuses ${JSON.stringify(statuses)}; ${failed.length} batches re-sent; ` +
          `${total} turns stored once`,
      );
    },
    120_000,
  );

  /**
   * Not R3 itself but its boundary: a Redis that comes back empty (no AOF, a flush, a
   * failover to an empty replica), here while the worker is in the middle of a job.
   * What it held is gone (that is what AOF is for), but the pipeline must not stay
   * broken: ingestion goes on, the worker survives, recreates its consumer group and
   * persists every turn accepted after the loss.
   */
  it('recovers when Redis comes back without its data', async () => {
    const admin = await loginAsAdmin(api.http);
    const session = await userSession(api.http, admin, 'case_worker');
    const id = (await createConversation(api.http, session)).id;
    const ingestor = new Ingestor(api.http, session.auth);
    for (let from = 1; from <= 5000; from += 1000)
      expect((await ingestor.post(id, range(from, from + 999))).status).toBe(202);
    // Caught in the middle of a job, holding entries: the loss hits work in flight.
    const deadline = Date.now() + 20_000;
    for (let caught = false; !caught;) {
      if (Date.now() > deadline) throw new Error('never caught the worker in a job');
      worker.signal('SIGSTOP');
      const held = (await probe.pendingByConsumer())[worker.consumer] ?? 0;
      caught = held > 0 && (await probe.queue.getActiveCount()) > 0;
      if (!caught) {
        worker.signal('SIGCONT');
        await sleep(5);
      }
    }
    try {
      await redis.restart(DOWN_MS, { wipe: true });
    } finally {
      worker.signal('SIGCONT');
    }
    const after = await waitFor(
      () => ingestor.post(id, range(5001, 6000)),
      (outcome) => outcome.status === 202,
      20_000,
      (outcome) => `ingestion does not recover: ${outcome.status} ${JSON.stringify(outcome.body)}`,
      500,
    );
    expect(after.body).toEqual({ accepted: 1000, duplicates: 0 });
    await waitFor(
      () => probe.bufferLength(),
      (length) => length === 0,
      20_000,
      (length) => `${length} turns accepted after the loss are never persisted\n${worker.output()}`,
      200,
    );
    // What Redis lost may be missing; what it accepted afterwards is there, and nothing
    // is stored twice or miscounted.
    const { rows } = await pool.query<{ n: number }>(
      'SELECT message_number AS n FROM turns WHERE conversation_id = $1',
      [id],
    );
    const stored = rows.map((r) => r.n);
    const {
      rows: [conversation],
    } = await pool.query<{ turns: number }>(
      'SELECT turns_count::int AS turns FROM conversations WHERE id = $1',
      [id],
    );
    expect({
      missingAfterLoss: range(5001, 6000).filter((n) => !stored.includes(n)),
      distinct: new Set(stored).size,
      turnsCount: conversation!.turns,
    }).toEqual({ missingAfterLoss: [], distinct: stored.length, turnsCount: stored.length });
    expect(worker.alive()).toBe(true);
  }, 60_000);
});
