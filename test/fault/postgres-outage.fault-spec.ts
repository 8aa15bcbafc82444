import type { Pool } from 'pg';
import { loginAsAdmin, startApp, TestApp, userSession } from '../support/app';
import {
  directPool,
  envInt,
  expectExactlyOnce,
  faultPrefix,
  Ingestor,
  persistedRows,
  PipelineProbe,
  range,
  report,
  RUN_DATABASE_URL,
  RUN_REDIS_URL,
  sleep,
  waitFor,
} from '../support/fault-pipeline';
import { TcpProxy } from '../support/fault-proxy';
import { startWorker, stopAllWorkers, WorkerProcess } from '../support/fault-worker';
import { createConversation } from '../support/turns';

/**
 * TARGETS R2: Postgres unreachable during steady ingestion. The app and a separate
 * worker reach Postgres only through a TCP proxy this test controls; the proxy resets
 * every connection and refuses new ones for OUTAGE_MS (10 s here, 30 s with
 * `npm run chaos`). Meanwhile the API keeps answering 202 (the caller's token and the
 * conversation fall back to their last known values), `/health/ready` says 503, and
 * nothing is persisted; once the proxy heals the backlog drains, nothing lost or
 * duplicated.
 */
describe('R2: Postgres unreachable during steady ingestion', () => {
  const OUTAGE_MS = envInt('FAULT_PG_OUTAGE_MS', 10_000);
  const BATCH = 100;
  const TICK_MS = 50;
  const prefix = faultPrefix('r2');
  let proxy: TcpProxy;
  let api: TestApp;
  let worker: WorkerProcess;
  let pool: Pool;
  let probe: PipelineProbe;

  beforeAll(async () => {
    const database = new URL(RUN_DATABASE_URL);
    proxy = await TcpProxy.start({
      host: database.hostname,
      port: Number(database.port || 5432),
    });
    const env = { REDIS_PREFIX: prefix, DATABASE_URL: proxy.rewrite(database.toString()) };
    const workerStarting = startWorker({ ...env, TURN_RECLAIM_IDLE_MS: '2000' });
    api = await startApp({ ...env, WORKERS_ENABLED: 'false' });
    worker = await workerStarting;
    pool = directPool();
    probe = new PipelineProbe(RUN_REDIS_URL, prefix);
  });

  afterAll(async () => {
    await proxy?.heal();
    await stopAllWorkers();
    await probe?.close();
    await pool?.end();
    await api?.close();
    await proxy?.close();
  });

  it(
    `keeps accepting through a ${OUTAGE_MS / 1000} s outage and loses nothing`,
    async () => {
      const admin = await loginAsAdmin(api.http);
      const session = await userSession(api.http, admin, 'case_worker');
      const ids = [
        (await createConversation(api.http, session)).id,
        (await createConversation(api.http, session)).id,
      ];
      const ingestor = new Ingestor(api.http, session.auth);
      const next = new Map(ids.map((id) => [id, 1]));
      const postNext = async (id: string): Promise<number> => {
        const from = next.get(id)!;
        next.set(id, from + BATCH);
        return (await ingestor.post(id, range(from, from + BATCH - 1))).status;
      };
      // The token and both conversations are used once while Postgres is up.
      for (const id of ids) expect(await postNext(id)).toBe(202);
      await waitFor(
        () => persistedRows(pool, ids),
        (rows) => rows === 2 * BATCH,
        15_000,
        (rows) => `${rows} warm-up rows`,
      );
      await api.http.get('/health/ready').expect(200);

      let ingesting = true;
      const steady = (async () => {
        for (let i = 0; ingesting; i += 1) {
          await postNext(ids[i % ids.length]!);
          await sleep(TICK_MS);
        }
      })();
      const health: { at: number; status: number }[] = [];
      let cutAt = 0;
      let healedAt = 0;
      let outageMs = 0;
      let rowsEarlyInOutage = -1;
      let rowsAtHeal = -1;
      let backlogAtHeal = -1;
      let backlogCountedAt = 0;
      try {
        await sleep(2000);
        await proxy.cut();
        cutAt = Date.now();
        await sleep(1000);
        rowsEarlyInOutage = await persistedRows(pool, ids);
        while (Date.now() - cutAt < OUTAGE_MS) {
          const response = await api.http.get('/health/ready').timeout(5000);
          health.push({ at: Date.now() - cutAt, status: response.status });
          await sleep(500);
        }
        rowsAtHeal = await persistedRows(pool, ids);
        backlogCountedAt = Date.now();
        backlogAtHeal = await probe.bufferTurns();
        outageMs = await proxy.heal();
        healedAt = Date.now();
        await sleep(2000);
      } finally {
        ingesting = false;
        await steady;
      }

      const during = ingestor.outcomes.filter((o) => o.startedAt >= cutAt && o.endedAt <= healedAt);
      const acceptedDuringOutage = during.reduce((sum, o) => sum + o.numbers.length, 0);
      // Turns answered 202 in the outage before the backlog was counted are all in it.
      const bufferedByCount = during
        .filter((o) => o.endedAt <= backlogCountedAt)
        .reduce((sum, o) => sum + o.numbers.length, 0);
      // Every request got 202, throughout; and there was steady traffic during the outage.
      expect(ingestor.statuses()).toEqual({ 202: ingestor.outcomes.length });
      expect(during.length).toBeGreaterThanOrEqual(OUTAGE_MS / 1000);
      // Readiness said so for the whole outage.
      expect(health.length).toBeGreaterThanOrEqual(3);
      expect(health.filter((h) => h.status !== 503)).toEqual([]);
      // The buffer held the turns: nothing reached Postgres while it was unreachable.
      expect(rowsAtHeal).toBe(rowsEarlyInOutage);
      expect(backlogAtHeal).toBeGreaterThanOrEqual(bufferedByCount);

      const acked = ingestor.ackedCount();
      await waitFor(
        () => persistedRows(pool, ids),
        (rows) => rows >= acked,
        60_000,
        (rows) => `${rows}/${acked} rows persisted after the outage\n${worker.output()}`,
        250,
      );
      const drainedMs = Date.now() - healedAt;
      await waitFor(
        () => probe.bufferLength(),
        (length) => length === 0,
        10_000,
        (length) => `${length} entries left in the buffer`,
      );
      await expectExactlyOnce(pool, ingestor.acked());
      await probe.expectDrained(ids);
      await api.http.get('/health/ready').expect(200);
      expect(worker.alive()).toBe(true);
      report(
        `R2: outage ${outageMs} ms; ${ingestor.outcomes.length} requests all 202 ` +
          `(${during.length} during the outage, ${acceptedDuringOutage} turns); readiness 503 ` +
          `x${health.length}; backlog at heal ${backlogAtHeal}; ${acked} turns persisted once, ` +
          `backlog drained ${drainedMs} ms after the heal`,
      );
    },
    60_000 + 3 * envInt('FAULT_PG_OUTAGE_MS', 10_000),
  );
});
