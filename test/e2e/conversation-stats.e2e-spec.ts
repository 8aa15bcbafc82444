import { activityStatement } from '../../src/conversations/conversation-stats.repository';
import { TurnPersistenceService } from '../../src/conversations/turns/turn-persistence.service';
import {
  createRole,
  createUser,
  expectProblem,
  login,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';
import { createConversation, turn } from '../support/turns';

/**
 * Cleaning statistics (SPEC section 10, last bullet): the new figures of
 * GET /conversations/:id/stats and the hourly activity of GET /stats/conversations.
 *
 * A database of its own, so that what a holder of cases:all sees is exactly what this
 * spec made; a Redis prefix of its own and workers off, so that turns are persisted
 * only when a test drains the buffer and every figure is exact.
 */
const HOUR = 3_600_000;

interface ContextBody {
  value: string | null;
  turns: number;
  averageProcessingTimeMs: number | null;
  highConfidenceTurns: number;
}

interface StatsBody {
  turns: number;
  buffered: number;
  turnsCleaned: number;
  errorsFiltered: number;
  averageLatencyMs: number | null;
  contexts: ContextBody[];
  [key: string]: unknown;
}

interface HourBody {
  hour: string;
  turns: number;
  activeConversations: number;
  averageProcessingTimeMs: number | null;
}

interface ActivityBody {
  hourly: HourBody[];
  totals: { turns: number; conversations: number; turnsCleaned: number; errorsFiltered: number };
}

const hourOf = (ms: number): string => new Date(Math.floor(ms / HOUR) * HOUR).toISOString();

describe('Conversation statistics (SPEC section 10)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let t: TestApp;
  let admin: Session;
  let auditor: Session;

  beforeAll(async () => {
    database = await isolatedDatabase('convstats');
    t = await startApp({
      DATABASE_URL: database.url,
      WORKERS_ENABLED: 'false',
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-convstats-${Date.now().toString(36)}`,
    });
    admin = await loginAsAdmin(t.http);
    auditor = await userSession(t.http, admin, 'auditor');
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  const base = (id: string, rest = '') => `/api/v1/conversations/${id}${rest}`;
  const drain = async () => {
    await t.app.get(TurnPersistenceService).drain(10_000);
  };
  const post = (session: Session, id: string, turns: Record<string, unknown>[]) =>
    t.http.post(base(id, '/turns')).set(session.auth).send({ turns }).expect(202);
  const patch = (session: Session, id: string, n: number, body: object) =>
    t.http
      .patch(base(id, `/turns/${n}`))
      .set(session.auth)
      .send(body)
      .expect(200);
  const stats = async (session: Session, id: string): Promise<StatsBody> =>
    (await t.http.get(base(id, '/stats')).set(session.auth).expect(200)).body as StatsBody;
  const activity = async (session: Session, query = ''): Promise<ActivityBody> =>
    (await t.http.get(`/api/v1/stats/conversations${query}`).set(session.auth).expect(200))
      .body as ActivityBody;
  const hourIn = (body: ActivityBody, hour: string): HourBody => {
    const found = body.hourly.find((h) => h.hour === hour);
    if (!found) throw new Error(`${hour} is not in the window ${body.hourly[0]?.hour}…`);
    return found;
  };

  /** Every hour of the window, consecutive, oldest first, the newest being the current one. */
  function expectWholeWindow(body: ActivityBody, hours: number, requestedAt: number): void {
    expect(body.hourly).toHaveLength(hours);
    body.hourly.forEach((entry, index) => {
      expect(Date.parse(entry.hour) % HOUR).toBe(0);
      if (index > 0)
        expect(Date.parse(entry.hour) - Date.parse(body.hourly[index - 1]!.hour)).toBe(HOUR);
    });
    const newest = Date.parse(body.hourly[hours - 1]!.hour);
    expect(newest).toBeGreaterThanOrEqual(Date.parse(hourOf(requestedAt)));
    expect(newest).toBeLessThanOrEqual(Date.now());
  }

  describe('GET /conversations/:id/stats', () => {
    it('counts cleaned and error turns, the mean latency and each context, from every turn’s latest revision', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      const conversation = await createConversation(t.http, owner);
      await post(owner, conversation.id, [
        turn(1, { confidence: 0.9, processingTimeMs: 999 }),
        turn(2, { confidence: 0.95 }),
        turn(3, { confidence: 0.7 }),
        turn(4, { confidence: 0.86 }),
        turn(5, { confidence: 0.3, processingTimeMs: 500 }),
      ]);

      // Buffered turns are not in the figures yet, only in `buffered` (as before).
      expect(await stats(owner, conversation.id)).toMatchObject({
        turns: 0,
        buffered: 5,
        turnsCleaned: 0,
        errorsFiltered: 0,
        averageLatencyMs: null,
        contexts: [],
      });

      // Revised while still buffered (turns 1-3), and after being persisted (turn 4).
      await patch(owner, conversation.id, 1, {
        cleaningApplied: true,
        contextDetected: 'contract',
        processingTimeMs: 100,
        websocketLatencyMs: 30,
      });
      await patch(owner, conversation.id, 2, {
        cleaningApplied: true,
        contextDetected: 'contract',
        processingTimeMs: 200,
        websocketLatencyMs: 50,
        transcriptionErrorDetected: true,
      });
      await patch(owner, conversation.id, 3, { contextDetected: 'billing', processingTimeMs: 60 });
      await drain();
      await patch(owner, conversation.id, 4, { cleaningApplied: true, contextDetected: 'billing' });
      // The latest revision decides: turn 4 ends up not cleaned, turn 2 no longer an error
      // and then an error again.
      await patch(owner, conversation.id, 4, { cleaningApplied: false });
      await patch(owner, conversation.id, 2, { transcriptionErrorDetected: false });
      await patch(owner, conversation.id, 2, { transcriptionErrorDetected: true });
      await drain();

      const body = await stats(owner, conversation.id);
      expect(body).toMatchObject({
        turns: 5,
        buffered: 0,
        turnsCleaned: 2,
        errorsFiltered: 1,
        averageLatencyMs: 40,
        // The figures that were there before are unchanged.
        confidenceDistribution: { HIGH: 60, MEDIUM: 20, LOW: 20 },
        averageProcessingTimeMs: (100 + 200 + 60 + 500) / 4,
      });
      // Most turns first; a tie by value; turns without a context last.
      expect(body.contexts).toEqual([
        { value: 'billing', turns: 2, averageProcessingTimeMs: 60, highConfidenceTurns: 1 },
        { value: 'contract', turns: 2, averageProcessingTimeMs: 150, highConfidenceTurns: 2 },
        { value: null, turns: 1, averageProcessingTimeMs: 500, highConfidenceTurns: 0 },
      ]);
    });

    it('reports null means when no turn has a latency or a processing time', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      const conversation = await createConversation(t.http, owner);
      await post(owner, conversation.id, [turn(1), turn(2, { contextDetected: 'intro' })]);
      await drain();
      const body = await stats(owner, conversation.id);
      expect(body).toMatchObject({ turns: 2, turnsCleaned: 0, errorsFiltered: 0 });
      expect(body.averageLatencyMs).toBeNull();
      expect(body.contexts).toEqual([
        { value: 'intro', turns: 1, averageProcessingTimeMs: null, highConfidenceTurns: 1 },
        { value: null, turns: 1, averageProcessingTimeMs: null, highConfidenceTurns: 1 },
      ]);
    });
  });

  describe('GET /stats/conversations', () => {
    it('buckets turns by UTC hour of spokenAt over exactly the conversations each caller may see', async () => {
      await drain();
      const requestedAt = Date.now();
      const auditorBefore = await activity(auditor);
      const now = Date.now();
      const current = Math.floor(now / HOUR) * HOUR;
      const h2 = hourOf(current - 2 * HOUR);
      const h5 = hourOf(current - 5 * HOUR);

      const ownerA = await userSession(t.http, admin, 'case_worker');
      const ownerB = await userSession(t.http, admin, 'case_worker');
      const caseViewer = await userSession(t.http, admin, 'case_worker');
      const stranger = await userSession(t.http, admin, 'case_worker');

      // A: ownerA's own conversation.
      const a = await createConversation(t.http, ownerA);
      await post(ownerA, a.id, [
        turn(1, {
          spokenAt: new Date(current - 2 * HOUR + 5 * 60_000).toISOString(),
          processingTimeMs: 100,
        }),
        turn(2, {
          spokenAt: new Date(current - 2 * HOUR + 40 * 60_000).toISOString(),
          processingTimeMs: 300,
        }),
        turn(3, { spokenAt: new Date(current - 5 * HOUR + 60_000).toISOString() }),
        // Outside a 24-hour window: 30 hours ago, and in a later hour than the window's last.
        turn(4, { spokenAt: new Date(current - 30 * HOUR).toISOString(), processingTimeMs: 7 }),
        turn(5, { spokenAt: new Date(current + 2 * HOUR).toISOString() }),
      ]);
      await patch(ownerA, a.id, 2, { cleaningApplied: true });

      // B: ownerB's, linked to a case caseViewer takes part in (but not in B itself).
      const created = await t.http
        .post('/api/v1/cases')
        .set(ownerB.auth)
        .send({ title: 'Stats visibility case' })
        .expect(201);
      const caseId = (created.body as { id: string }).id;
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(ownerB.auth)
        .send({ userId: caseViewer.userId, role: 'viewer' })
        .expect(201);
      const b = await createConversation(t.http, ownerB, { caseId });
      await post(ownerB, b.id, [
        turn(1, {
          spokenAt: new Date(current - 2 * HOUR + 10 * 60_000).toISOString(),
          processingTimeMs: 50,
        }),
      ]);
      await patch(ownerB, b.id, 1, { cleaningApplied: true, transcriptionErrorDetected: true });

      // Deleted: its turns count for nobody.
      const deleted = await createConversation(t.http, ownerA);
      await post(ownerA, deleted.id, [
        turn(1, { spokenAt: new Date(current - 2 * HOUR).toISOString() }),
      ]);
      await drain();
      await t.http.delete(base(deleted.id)).set(ownerA.auth).expect(204);

      const forA = await activity(ownerA);
      expectWholeWindow(forA, 24, requestedAt);
      expect(hourIn(forA, h2)).toEqual({
        hour: h2,
        turns: 2,
        activeConversations: 1,
        averageProcessingTimeMs: 200,
      });
      expect(hourIn(forA, h5)).toEqual({
        hour: h5,
        turns: 1,
        activeConversations: 1,
        averageProcessingTimeMs: null,
      });
      expect(forA.hourly.reduce((sum, h) => sum + h.turns, 0)).toBe(3);
      expect(forA.totals).toEqual({
        turns: 3,
        conversations: 1,
        turnsCleaned: 1,
        errorsFiltered: 0,
      });

      // A linked case's participant sees B through the case, nothing of A.
      const forViewer = await activity(caseViewer);
      expect(hourIn(forViewer, h2)).toMatchObject({
        turns: 1,
        activeConversations: 1,
        averageProcessingTimeMs: 50,
      });
      expect(forViewer.totals).toEqual({
        turns: 1,
        conversations: 1,
        turnsCleaned: 1,
        errorsFiltered: 1,
      });
      expect(await activity(ownerB)).toEqual(forViewer);

      // Someone who sees neither gets none of their turns.
      const forStranger = await activity(stranger);
      expect(forStranger.totals).toEqual({
        turns: 0,
        conversations: 0,
        turnsCleaned: 0,
        errorsFiltered: 0,
      });
      expect(forStranger.hourly.every((h) => h.turns === 0 && h.activeConversations === 0)).toBe(
        true,
      );

      // cases:all sees both (this spec's database holds nothing else new since `before`).
      const forAuditor = await activity(auditor);
      expect(forAuditor.totals).toEqual({
        turns: auditorBefore.totals.turns + 4,
        conversations: auditorBefore.totals.conversations + 2,
        turnsCleaned: auditorBefore.totals.turnsCleaned + 2,
        errorsFiltered: auditorBefore.totals.errorsFiltered + 1,
      });
      const h2Before = hourIn(auditorBefore, h2);
      expect(hourIn(forAuditor, h2)).toMatchObject({
        turns: h2Before.turns + 3,
        activeConversations: h2Before.activeConversations + 2,
      });

      // A longer window reaches the turn spoken 30 hours ago.
      const wide = await activity(ownerA, '?hours=48');
      expectWholeWindow(wide, 48, requestedAt);
      expect(wide.totals).toMatchObject({ turns: 4, conversations: 1 });
      expect(hourIn(wide, hourOf(current - 30 * HOUR))).toMatchObject({
        turns: 1,
        averageProcessingTimeMs: 7,
      });
    });

    it('counts only persisted turns, as GET /conversations/:id/stats does', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      const conversation = await createConversation(t.http, owner);
      await post(owner, conversation.id, [turn(1), turn(2)]);
      expect((await activity(owner)).totals.turns).toBe(0);
      await drain();
      expect((await activity(owner)).totals).toEqual({
        turns: 2,
        conversations: 1,
        turnsCleaned: 0,
        errorsFiltered: 0,
      });
    });

    it('lists every hour of an empty window with zeros, for 1 to 720 hours', async () => {
      const nobody = await userSession(t.http, admin, 'case_worker');
      for (const hours of [1, 24, 720]) {
        const requestedAt = Date.now();
        const body = await activity(nobody, hours === 24 ? '' : `?hours=${hours}`);
        expectWholeWindow(body, hours, requestedAt);
        expect(
          body.hourly.every(
            (h) =>
              h.turns === 0 && h.activeConversations === 0 && h.averageProcessingTimeMs === null,
          ),
        ).toBe(true);
        expect(body.totals).toEqual({
          turns: 0,
          conversations: 0,
          turnsCleaned: 0,
          errorsFiltered: 0,
        });
      }
    });

    it('refuses hours outside 1..720 and unknown parameters with a 400 problem', async () => {
      for (const query of [
        'hours=0',
        'hours=721',
        'hours=-3',
        'hours=1.5',
        'hours=abc',
        'hours=',
      ]) {
        const response = await t.http.get(`/api/v1/stats/conversations?${query}`).set(auditor.auth);
        const problem = expectProblem(response, 400);
        expect(problem.errors?.length).toBeGreaterThan(0);
        expect(new Set(problem.errors?.map((e) => e.field))).toEqual(new Set(['hours']));
      }
      const unknown = await t.http
        .get('/api/v1/stats/conversations?hours=24&conversationId=x')
        .set(auditor.auth);
      expectProblem(unknown, 400);
    });

    it('takes conversations:read: 401 without credentials, 403 without the permission', async () => {
      expectProblem(await t.http.get('/api/v1/stats/conversations'), 401);
      const role = await createRole(t.http, admin, ['cases:read']);
      const user = await createUser(t.http, admin, role.name);
      const session = await login(t.http, user.username, user.password);
      expectProblem(await t.http.get('/api/v1/stats/conversations').set(session.auth), 403);
    });

    it('reads each visible conversation’s own partition through its (conversation_id, spoken_at) index', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      // Two large conversations, one started three months ago (so its turns live in that
      // month's partition), each with 20,000 turns spread over 60 days: 1/60 of them fall
      // in a 24-hour window.
      const old = new Date();
      old.setUTCMonth(old.getUTCMonth() - 3, 1);
      const oldMonth = old.toISOString().slice(0, 10);
      const large = [
        await createConversation(t.http, owner),
        await createConversation(t.http, owner),
      ];
      await t.db.query('SELECT ensure_turn_partition($1::date)', [oldMonth]);
      await t.db.query('UPDATE conversations SET partition_month = $2 WHERE id = $1', [
        large[1]!.id,
        oldMonth,
      ]);
      for (const { id } of large) {
        await t.db.query(
          `INSERT INTO turns (partition_month, conversation_id, message_number, speaker, raw_text,
                              spoken_at, confidence, received_at, persisted_at)
           SELECT c.partition_month, c.id, n, 'S', 'turn ' || n,
                  now() - make_interval(secs => n * 259.2), 0.9, now(), now()
             FROM conversations c, generate_series(1, 20000) AS n WHERE c.id = $1`,
          [id],
        );
        await t.db.query('UPDATE conversations SET turns_count = 20000 WHERE id = $1', [id]);
      }
      await t.db.query('ANALYZE turns');
      await t.db.query('ANALYZE conversations');
      const copies = (
        await t.db.query<{ name: string }[]>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'turns_conversation_spoken_idx'::regclass`,
        )
      ).map((r) => r.name);

      interface PlanNode {
        'Node Type': string;
        'Relation Name'?: string;
        'Index Name'?: string;
        'Subplans Removed'?: number;
        'Actual Loops'?: number;
        Plans?: PlanNode[];
      }
      const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

      const to = new Date((Math.floor(Date.now() / HOUR) + 1) * HOUR);
      const from = new Date(to.getTime() - 24 * HOUR);
      for (const scope of [
        { actorId: owner.userId, seesAll: false },
        { actorId: auditor.userId, seesAll: true },
      ]) {
        const { sql, parameters } = activityStatement(scope, from, to);
        const [row] = await t.db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
          parameters,
        );
        const all = nodes(row!['QUERY PLAN'][0]!.Plan);
        // Partitions the executor never opened (`Actual Loops` 0) may show any plan.
        const turnScans = all.filter(
          (n) => n['Relation Name']?.startsWith('turns_') && (n['Actual Loops'] ?? 0) > 0,
        );
        const detail = JSON.stringify(row!['QUERY PLAN']);
        if (turnScans.length === 0) throw new Error(detail);
        // No partition of turns is read whole: every read of one is a range of the index.
        const indexOf = (scan: PlanNode): string | undefined =>
          scan['Node Type'] === 'Bitmap Heap Scan'
            ? scan.Plans?.[0]?.['Index Name']
            : scan['Index Name'];
        for (const scan of turnScans) {
          if (!copies.includes(indexOf(scan) ?? ''))
            throw new Error(`${scan['Node Type']} on ${scan['Relation Name']}: ${detail}`);
        }
        // Each execution opens only its conversation's partition (run-time pruning): the
        // partitions' scans together run as often as the Append over them.
        const appends = all.filter((n) =>
          n.Plans?.some((child) => child['Relation Name']?.startsWith('turns_')),
        );
        expect(appends.length).toBeGreaterThan(0);
        for (const append of appends) {
          expect(append['Node Type']).toMatch(/Append/);
          const opened = append.Plans!.reduce(
            (sum, child) => sum + (child['Actual Loops'] ?? 0),
            0,
          );
          expect(opened).toBe(append['Actual Loops']);
          expect(append.Plans!.length).toBeGreaterThan(1);
        }
      }

      const body = await activity(owner);
      expect(body.totals.conversations).toBe(2);
      expect(body.totals.turns).toBeGreaterThanOrEqual(2 * 300);
      expect(body.totals.turns).toBeLessThanOrEqual(2 * 340);
    });
  });
});
