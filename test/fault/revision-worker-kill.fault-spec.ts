import { report, sleep, waitFor } from '../support/fault-pipeline';
import { startWorker } from '../support/fault-worker';
import { turn } from '../support/turns';
import { workerFault } from '../support/worker-fault';

/**
 * TARGETS R9: the worker process is killed (`kill -9`) while turns and PATCHed revisions
 * of them are both still buffered: every turn and its latest revision end in Postgres,
 * with the revision history complete and nothing stored twice.
 *
 * The API runs here with WORKERS_ENABLED=false; a separate worker process (src/worker.ts)
 * is frozen while the turns and their revisions are accepted, then let go and killed as
 * soon as it holds unacknowledged entries. A second worker reclaims them.
 */
describe('R9: kill -9 of the worker while turns and their revisions are buffered', () => {
  const TURNS = 1500;
  const REVISIONS = 2;
  const fault = workerFault('r9');

  it(`stores ${TURNS} turns once each, at revision ${REVISIONS + 1}, with every revision`, async () => {
    const { api, pool, probe, workerEnv } = fault;
    const first = await startWorker(workerEnv);
    first.signal('SIGSTOP');
    const {
      session,
      ids: [id],
    } = await fault.conversations(1);
    for (let from = 1; from <= TURNS; from += 500) {
      const turns = Array.from({ length: 500 }, (_, i) => turn(from + i));
      await api.http
        .post(`/api/v1/conversations/${id}/turns`)
        .set(session.auth)
        .send({ turns })
        .expect(202);
    }
    for (let revision = 2; revision <= REVISIONS + 1; revision++) {
      for (let n = 1; n <= TURNS; n += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            api.http
              .patch(`/api/v1/conversations/${id}/turns/${n + i}`)
              .set(session.auth)
              .send({ cleanedText: `turn ${n + i} at revision ${revision}`, cleaningApplied: true })
              .expect(200),
          ),
        );
      }
    }
    // Nothing persisted yet: the only worker is frozen.
    const before = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
      [id],
    );
    expect(before.rows[0]!.n).toBe(0);

    // Let it go, and kill it the moment it holds entries it has not acknowledged.
    first.signal('SIGCONT');
    let held = 0;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && held === 0;) {
      held = (await probe.pendingByConsumer())[first.consumer] ?? 0;
      if (held === 0) await sleep(2);
    }
    first.signal('SIGKILL');
    await first.exited;
    expect(held).toBeGreaterThan(0);
    const atKill = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
      [id],
    );

    const second = await startWorker(workerEnv);
    await waitFor(
      () => probe.bufferLength(),
      (length) => length === 0,
      90_000,
      (length) => `${length} entries left in the buffer\n${second.output()}`,
      250,
    );

    const turns = await pool.query<{ rows: number; distinct: number; latest: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT message_number)::int AS distinct,
              count(*) FILTER (WHERE revision = $2
                AND cleaned_text = 'turn ' || message_number || ' at revision ' || $2)::int AS latest
         FROM turns WHERE conversation_id = $1`,
      [id, REVISIONS + 1],
    );
    expect(turns.rows[0]).toEqual({ rows: TURNS, distinct: TURNS, latest: TURNS });
    const history = await pool.query<{ complete: number }>(
      `SELECT count(*)::int AS complete FROM (
         SELECT message_number FROM turn_revisions WHERE conversation_id = $1
          GROUP BY message_number
         HAVING array_agg(revision ORDER BY revision) = $2::int[]) s`,
      [id, Array.from({ length: REVISIONS + 1 }, (_, i) => i + 1)],
    );
    expect(history.rows[0]!.complete).toBe(TURNS);
    const counters = await pool.query<{ turns_count: string }>(
      'SELECT turns_count FROM conversations WHERE id = $1',
      [id],
    );
    expect(Number(counters.rows[0]!.turns_count)).toBe(TURNS);
    report(
      `R9: ${TURNS} turns × ${REVISIONS} revisions buffered; worker killed holding ${held} ` +
        `entries with ${atKill.rows[0]!.n} turns persisted; all turns once at their latest revision, ` +
        `history complete`,
    );
  }, 180_000);
});
