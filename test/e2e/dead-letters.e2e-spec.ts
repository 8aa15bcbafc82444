import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';
import { createConversation, eventually, turn } from '../support/turns';

interface DeadLetterView {
  id: string;
  conversationId: string;
  messageNumber: number;
  reason: string;
  deadLetteredAt: string;
  turn: { rawText: string; messageNumber: number };
}

/**
 * Dead letters (SPEC section 12): a turn the database refuses is kept aside with the
 * reason instead of blocking everyone's turns; `queues:admin` holders list it and, once
 * the cause is fixed, put it back into the buffer, where it is persisted exactly once.
 * A database and Redis prefix of its own: the dead-letter stream is global to a prefix,
 * and the refusal is a trigger on `turns`.
 */
describe('Dead-lettered turns (SPEC section 12)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    database = await isolatedDatabase('deadletters');
    t = await startApp({
      DATABASE_URL: database.url,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-deadletters`,
    });
    admin = await loginAsAdmin(t.http);
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  /** The database refuses any turn with this text (a check violation), until dropped. */
  async function refuse(rawText: string): Promise<() => Promise<void>> {
    await t.db.query(`
      CREATE FUNCTION e2e_refuse_turn() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.raw_text = '${rawText}' THEN
          RAISE EXCEPTION 'e2e: refused %', NEW.message_number USING ERRCODE = '23514';
        END IF;
        RETURN NEW;
      END $$`);
    await t.db.query(`
      CREATE TRIGGER e2e_refuse_turn AFTER INSERT ON turns
        FOR EACH ROW EXECUTE FUNCTION e2e_refuse_turn()`);
    return async () => {
      await t.db.query('DROP TRIGGER e2e_refuse_turn ON turns');
      await t.db.query('DROP FUNCTION e2e_refuse_turn()');
    };
  }

  const list = async (query = '') =>
    (await t.http.get(`/api/v1/admin/dead-letters/turns${query}`).set(admin.auth).expect(200))
      .body as { data: DeadLetterView[]; total: number; nextCursor: string | null };

  const stored = async (conversationId: string) =>
    (
      await t.db.query<{ message_number: number }[]>(
        'SELECT message_number FROM turns WHERE conversation_id = $1 ORDER BY message_number',
        [conversationId],
      )
    ).map((row) => row.message_number);

  it('keeps a refused turn aside, lists it, and replays it once the cause is fixed', async () => {
    const conversation = await createConversation(t.http, admin);
    const allow = await refuse('refuse-me');
    let dead: DeadLetterView[];
    try {
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send({ turns: [1, 2, 3].map((n) => turn(n, n === 2 ? { rawText: 'refuse-me' } : {})) })
        .expect(202);
      // The others are not held up by it.
      expect(
        await eventually(
          () => stored(conversation.id),
          (n) => n.length === 2,
        ),
      ).toEqual([1, 3]);
      dead = (await eventually(list, (page) => page.total === 1)).data;
    } finally {
      await allow();
    }
    expect(dead).toEqual([
      expect.objectContaining({
        conversationId: conversation.id,
        messageNumber: 2,
        reason: expect.stringContaining('e2e: refused 2') as string,
        turn: expect.objectContaining({ rawText: 'refuse-me', messageNumber: 2 }) as object,
      }),
    ]);
    expect(Date.parse(dead[0]!.deadLetteredAt)).not.toBeNaN();
    // Not a turn while it is aside, even to the process that accepted it moments ago and
    // remembers it: its PATCH is 404 like its GET, and no revision is kept for it.
    const revision = await t.http
      .patch(`/api/v1/conversations/${conversation.id}/turns/2`)
      .set(admin.auth)
      .send({ cleanedText: 'cleaned' });
    expectProblem(revision, 404);
    expect(
      await t.db.query('SELECT 1 FROM turn_revisions WHERE conversation_id = $1', [
        conversation.id,
      ]),
    ).toEqual([]);

    const replay = await t.http
      .post('/api/v1/admin/dead-letters/turns/replay')
      .set(admin.auth)
      .send({ ids: [dead[0]!.id] })
      .expect(200);
    expect(replay.body).toEqual({ replayed: [dead[0]!.id], remaining: 0 });
    expect(
      await eventually(
        () => stored(conversation.id),
        (n) => n.length === 3,
      ),
    ).toEqual([1, 2, 3]);

    // Replaying what is gone does nothing; the turn is stored once.
    const again = await t.http
      .post('/api/v1/admin/dead-letters/turns/replay')
      .set(admin.auth)
      .send({ ids: [dead[0]!.id] })
      .expect(200);
    expect(again.body).toEqual({ replayed: [], remaining: 0 });
    expect(await stored(conversation.id)).toEqual([1, 2, 3]);

    const [audit] = await t.db.query<{ resource_id: string; details: { count: number } }[]>(
      `SELECT resource_id, details FROM audit_logs WHERE action = 'conversation.turns_replay'`,
    );
    expect(audit).toMatchObject({ resource_id: conversation.id, details: { count: 1 } });
  });

  it('a turn refused again goes back to the dead letters with the new reason', async () => {
    const conversation = await createConversation(t.http, admin);
    const allow = await refuse('refuse-twice');
    try {
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send({ turns: [turn(1, { rawText: 'refuse-twice' })] })
        .expect(202);
      const first = (await eventually(list, (page) => page.total === 1)).data[0]!;
      // Replay everything (no ids): still refused, so dead-lettered anew under a new id.
      const replay = await t.http
        .post('/api/v1/admin/dead-letters/turns/replay')
        .set(admin.auth)
        .send({})
        .expect(200);
      expect(replay.body.replayed).toEqual([first.id]);
      const second = await eventually(
        list,
        (page) => page.total === 1 && page.data[0]!.id !== first.id,
      );
      expect(second.data[0]).toMatchObject({ conversationId: conversation.id, messageNumber: 1 });
    } finally {
      await allow();
    }
    await t.http
      .post('/api/v1/admin/dead-letters/turns/replay')
      .set(admin.auth)
      .send({})
      .expect(200);
    expect(
      await eventually(
        () => stored(conversation.id),
        (n) => n.length === 1,
      ),
    ).toEqual([1]);
  });

  it('pages with after/limit', async () => {
    const conversation = await createConversation(t.http, admin);
    const allow = await refuse('page-me');
    try {
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send({ turns: [1, 2, 3].map((n) => turn(n, { rawText: 'page-me' })) })
        .expect(202);
      await eventually(list, (page) => page.total === 3);
      const first = await list('?limit=2');
      expect(first.data).toHaveLength(2);
      expect(first.nextCursor).toBe(first.data[1]!.id);
      const rest = await list(`?limit=2&after=${first.nextCursor}`);
      expect(rest).toMatchObject({ nextCursor: null });
      expect(rest.data).toHaveLength(1);
      const numbers = [...first.data, ...rest.data].map((d) => d.messageNumber).sort();
      expect(numbers).toEqual([1, 2, 3]);
    } finally {
      await allow();
    }
    await t.http
      .post('/api/v1/admin/dead-letters/turns/replay')
      .set(admin.auth)
      .send({})
      .expect(200);
    expect(
      await eventually(
        () => stored(conversation.id),
        (n) => n.length === 3,
      ),
    ).toHaveLength(3);
  });

  it('is for queues:admin only, and refuses malformed input', async () => {
    const worker = await userSession(t.http, admin, 'case_worker');
    expectProblem(await t.http.get('/api/v1/admin/dead-letters/turns').set(worker.auth), 403);
    expectProblem(
      await t.http.post('/api/v1/admin/dead-letters/turns/replay').set(worker.auth).send({}),
      403,
    );
    expectProblem(await t.http.get('/api/v1/admin/dead-letters/turns'), 401);
    expectProblem(
      await t.http.get('/api/v1/admin/dead-letters/turns?after=nope').set(admin.auth),
      400,
    );
    expectProblem(
      await t.http
        .post('/api/v1/admin/dead-letters/turns/replay')
        .set(admin.auth)
        .send({ ids: ['1-0; DROP'] }),
      400,
    );
    expectProblem(
      await t.http
        .post('/api/v1/admin/dead-letters/turns/replay')
        .set(admin.auth)
        .send({ ids: [] }),
      400,
    );
  });
});
