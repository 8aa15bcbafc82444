import { envInt, ingestAll, Ingestor, planBatches, report } from '../support/fault-pipeline';
import { startWorker } from '../support/fault-worker';
import { workerFault } from '../support/worker-fault';

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
  const fault = workerFault('r1');

  it(`persists all ${TOTAL} accepted turns exactly once after the worker is killed`, async () => {
    const { api, probe, workerEnv } = fault;
    const started = Date.now();
    const firstStarting = startWorker(workerEnv);
    const { session, ids } = await fault.conversations(CONVERSATIONS);
    const first = await firstStarting;
    const booted = Date.now();

    const ingestor = new Ingestor(api.http, session.auth);
    const ingesting = ingestAll(ingestor, planBatches(ids, TOTAL / CONVERSATIONS, BATCH), 2);
    const killed = await fault.killMidBatch(first, ids, TOTAL, 90_000);
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
    const drained = await fault.expectAllPersistedOnce(ids, TOTAL / CONVERSATIONS, second, 90_000);
    expect(second.alive()).toBe(true);
    report(
      `R1: ${TOTAL} turns; worker boot ${booted - started} ms; killed with ${killed.rows} rows ` +
        `persisted and ${killed.held} entries unacknowledged; ingestion done ` +
        `${ingested - booted} ms after start; all persisted ${drained - killedAt} ms after the kill`,
    );
  }, 180_000);
});
