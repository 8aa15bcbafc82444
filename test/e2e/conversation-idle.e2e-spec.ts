import { getQueueToken } from '@nestjs/bullmq';
import { Job, Queue } from 'bullmq';
import {
  CONVERSATION_IDLE_SCHEDULER_ID,
  CONVERSATION_IDLE_SWEEP_MS,
  ConversationIdleJobName,
} from '../../src/conversations/conversation-idle.jobs';
import { TestClock } from '../../src/core/clock/clock';
import { QueueName } from '../../src/core/queue/queue-names';
import { expectProblem, loginAsAdmin, Session, startApp, TestApp } from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';
import { createConversation, eventually, turn } from '../support/turns';

/**
 * Idle sessions (SPEC section 10): an active conversation with no new turn for
 * CONVERSATION_IDLE_MINUTES is ended and sealed by the repeatable idle sweep, with
 * `endedReason: "idle"`. Time moves on a TestClock, never by sleeping.
 *
 * A database and queues of its own: the sweep ends every conversation that looks idle to
 * this app's (advanced) clock, which would be every live conversation of the other specs.
 */
describe('Idle conversations (SPEC section 10)', () => {
  const IDLE_MINUTES = 120;
  let database: { url: string; drop: () => Promise<void> };
  let t: TestApp;
  let admin: Session;
  let queue: Queue;
  const clock = new TestClock();

  beforeAll(async () => {
    database = await isolatedDatabase('idle');
    t = await startApp(
      {
        DATABASE_URL: database.url,
        REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-idle`,
        CONVERSATION_IDLE_MINUTES: String(IDLE_MINUTES),
      },
      { clock },
    );
    admin = await loginAsAdmin(t.http);
    queue = t.app.get<Queue>(getQueueToken(QueueName.ConversationIdle));
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  /** Moves the app's time on; signs in again, since access tokens expire meanwhile. */
  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    admin = await loginAsAdmin(t.http);
  }

  /** Runs the job the scheduler runs, in the app's worker; the ids it ended. */
  async function sweep(): Promise<string[]> {
    const job = await queue.add(ConversationIdleJobName.Sweep, { requestedBy: null });
    for (let i = 0; i < 400; i++) {
      const state = await job.getState();
      if (state === 'completed')
        return ((await Job.fromId(queue, job.id!))!.returnvalue as { ended: string[] }).ended;
      if (state === 'failed') throw new Error(`idle sweep failed: ${job.failedReason}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('idle sweep did not finish');
  }

  const get = async (id: string) =>
    (await t.http.get(`/api/v1/conversations/${id}`).set(admin.auth).expect(200)).body as {
      status: string;
      endedReason: string | null;
      endedAt: string | null;
      sealHash: string | null;
      turnsCount: number;
      lastActivityAt: string | null;
    };

  async function postAndPersist(id: string, numbers: number[]): Promise<void> {
    await t.http
      .post(`/api/v1/conversations/${id}/turns`)
      .set(admin.auth)
      .send({ turns: numbers.map((n) => turn(n)) })
      .expect(202);
    const persisted = await eventually(
      () => get(id),
      (c) => c.turnsCount === numbers.length,
    );
    expect(persisted.turnsCount).toBe(numbers.length);
  }

  it('schedules the sweep every minute', async () => {
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).toEqual([
      expect.objectContaining({
        key: CONVERSATION_IDLE_SCHEDULER_ID,
        name: ConversationIdleJobName.Sweep,
        every: CONVERSATION_IDLE_SWEEP_MS,
      }),
    ]);
  });

  it('ends and seals a conversation idle for CONVERSATION_IDLE_MINUTES, and only such', async () => {
    const talked = await createConversation(t.http, admin);
    const silent = await createConversation(t.http, admin);
    const lively = await createConversation(t.http, admin);
    await postAndPersist(talked.id, [1, 2, 3]);
    await postAndPersist(lively.id, [1]);

    // Just short of the limit: nothing is idle yet.
    await advance((IDLE_MINUTES - 1) * 60_000);
    expect(await sweep()).toEqual([]);
    // `lively` takes a turn now, so its idle time starts again.
    await t.http
      .post(`/api/v1/conversations/${lively.id}/turns`)
      .set(admin.auth)
      .send(turn(2))
      .expect(202);
    await eventually(
      () => get(lively.id),
      (c) => c.turnsCount === 2,
    );

    await advance(2 * 60_000);
    // The scheduler may have run the sweep meanwhile: the states decide, not one run's result.
    await sweep();
    for (const { id } of [talked, silent]) {
      const ended = await get(id);
      expect(ended).toMatchObject({
        status: 'archived',
        endedReason: 'idle',
        endedAt: expect.any(String),
        sealHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      // Ended on the app's clock, past the idle time.
      expect(Date.parse(ended.endedAt!)).toBeGreaterThan(Date.now() + IDLE_MINUTES * 60_000);
      const verify = await t.http
        .get(`/api/v1/conversations/${id}/verify`)
        .set(admin.auth)
        .expect(200);
      expect(verify.body).toMatchObject({ valid: true, turns: id === talked.id ? 3 : 0 });
    }
    expect(await get(lively.id)).toMatchObject({ status: 'active', endedReason: null });

    // An idle-ended conversation takes no more turns, like one a client ended.
    expectProblem(
      await t.http.post(`/api/v1/conversations/${talked.id}/turns`).set(admin.auth).send(turn(4)),
      409,
    );
    const audit = await t.http
      .get('/api/v1/audit')
      .query({ resourceId: talked.id, action: 'conversation.end' })
      .set(admin.auth)
      .expect(200);
    expect((audit.body as { data: { actorId: string | null; details: unknown }[] }).data).toEqual([
      expect.objectContaining({ actorId: null, details: { reason: 'idle' } }),
    ]);

    // Later, `lively` too goes idle; a sweep finding nothing more is a no-op.
    await advance(IDLE_MINUTES * 60_000);
    await sweep();
    expect(await get(lively.id)).toMatchObject({ status: 'archived', endedReason: 'idle' });
    expect(await sweep()).toEqual([]);
  });

  it('leaves alone a conversation a client already ended ("request")', async () => {
    const ended = await createConversation(t.http, admin);
    await t.http.post(`/api/v1/conversations/${ended.id}/end`).set(admin.auth).expect(200);
    await advance((IDLE_MINUTES + 1) * 60_000);
    await sweep();
    expect(await get(ended.id)).toMatchObject({ status: 'archived', endedReason: 'request' });
  });
});
