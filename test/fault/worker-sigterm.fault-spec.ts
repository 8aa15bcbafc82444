import {
  envInt,
  ingestAll,
  Ingestor,
  persistedRows,
  planBatches,
  report,
  sleep,
} from '../support/fault-pipeline';
import { startWorker, WorkerProcess } from '../support/fault-worker';
import { workerFault } from '../support/worker-fault';

/**
 * TARGETS R6: SIGTERM to the worker process while it persists. The process exits
 * within a few seconds; the job it was running either completed or went back to the
 * queue (never left active, never failed half-way); its unacknowledged entries are
 * persisted by the next worker; nothing lost, nothing stored twice.
 */
describe('R6: SIGTERM to the worker in the middle of persisting', () => {
  const TOTAL = envInt('FAULT_R6_TURNS', 30_000);
  const CONVERSATIONS = 2;
  const BATCH = 1000;
  const EXIT_WITHIN_MS = 8000;
  const MIN_BACKLOG = 3000;
  const fault = workerFault('r6');

  /**
   * Freezes the worker until it is caught running a job and holding unacknowledged
   * entries, with rows persisted and a long backlog left; then SIGTERM (delivered on
   * SIGCONT).
   */
  async function terminateMidJob(
    worker: WorkerProcess,
    ids: string[],
  ): Promise<{ at: number; rows: number; held: number; jobs: string[] }> {
    const { pool, probe } = fault;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const rows = await persistedRows(pool, ids);
      if (rows > 0) {
        worker.signal('SIGSTOP');
        const held = (await probe.pendingByConsumer())[worker.consumer] ?? 0;
        const active = await probe.queue.getActive();
        const rowsNow = await persistedRows(pool, ids);
        // Still a long backlog: the running drain has work for the rest of its budget.
        // The buffer holds one entry per POST, each of BATCH turns.
        const backlog = (await probe.bufferLength()) * BATCH;
        if (held > 0 && active.length > 0 && backlog >= MIN_BACKLOG) {
          const at = Date.now();
          worker.signal('SIGTERM');
          worker.signal('SIGCONT');
          return { at, rows: rowsNow, held, jobs: active.map((job) => job.id!) };
        }
        worker.signal('SIGCONT');
      }
      await sleep(rows > 0 ? 5 : 50);
    }
    throw new Error(`never caught the worker mid-job:\n${worker.output()}`);
  }

  it('exits promptly, leaves no job half-run, and the next worker persists the rest once', async () => {
    const { api, pool, probe, workerEnv } = fault;
    const firstStarting = startWorker(workerEnv);
    const { session, ids } = await fault.conversations(CONVERSATIONS);
    const first = await firstStarting;

    // Frozen while the turns arrive, so that once thawed it has a long backlog ahead and
    // every drain job runs its full time budget: SIGTERM lands in a job with most of
    // its work still to do, the case a graceful shutdown has to get right.
    // Ingestion goes on through the shutdown, so the next worker has turns to persist.
    first.signal('SIGSTOP');
    const batches = planBatches(ids, TOTAL / CONVERSATIONS, BATCH);
    const ingestor = new Ingestor(api.http, session.auth);
    await ingestAll(ingestor, batches.slice(0, batches.length / 2), 2);
    first.signal('SIGCONT');
    const ingesting = ingestAll(ingestor, batches.slice(batches.length / 2), 2);

    const term = await terminateMidJob(first, ids);
    const exit = await first.exited;
    const exitMs = exit.at - term.at;
    // Nest's shutdown hooks re-raise the signal once the application is closed.
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(exitMs).toBeLessThan(EXIT_WITHIN_MS);

    // The jobs in flight at SIGTERM finished (or, if they could not, went back to the
    // queue): none is still active, none failed because the process was stopping.
    const jobs = await Promise.all(
      term.jobs.map(async (id) => {
        const job = await probe.queue.getJob(id);
        return {
          id,
          state: await probe.queue.getJobState(id),
          failedReason: job?.failedReason ?? null,
          ranAfterSigterm: job?.finishedOn ? job.finishedOn - term.at : null,
          result: job?.returnvalue as unknown,
        };
      }),
    );
    for (const job of jobs) {
      expect({
        ...job,
        finished: ['completed', 'waiting', 'wait', 'prioritized'].includes(job.state),
      }).toMatchObject({ finished: true, failedReason: null });
    }
    expect(await probe.queue.getActiveCount()).toBe(0);

    const secondStarting = startWorker(workerEnv);
    await ingesting;
    expect(ingestor.statuses()).toEqual({ 202: TOTAL / BATCH });
    const rowsBeforeSecond = await persistedRows(pool, ids);
    const second = await secondStarting;
    await fault.expectAllPersistedOnce(ids, TOTAL / CONVERSATIONS, second, 60_000);
    report(
      `R6: SIGTERM with ${term.rows}/${TOTAL} rows persisted, ${term.held} entries ` +
        `unacknowledged, jobs in flight ${JSON.stringify(jobs)}; exited in ${exitMs} ms; ` +
        `${TOTAL - rowsBeforeSecond} turns left for the next worker`,
    );
  }, 120_000);
});
