import fc from 'fast-check';
import { TurnBuffer } from '../../src/conversations/turns/turn-buffer';
import { TurnPersistenceService } from '../../src/conversations/turns/turn-persistence.service';
import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { createConversation, turn } from '../support/turns';

/**
 * Turn revisions (SPEC section 10): PATCH of a turn's cleaning fields, one turn read,
 * its revision history, and the seal over the latest revisions.
 *
 * Workers are off in this app: persistence happens only when a test drains the buffer
 * (TurnPersistenceService.drain), so "still buffered" and "persisted" are states a test
 * chooses rather than races it hopes to win. A consumer that reads entries and never
 * acknowledges them stands in for a worker killed mid-batch (TARGETS R9); the drain's
 * reclaim (TURN_RECLAIM_IDLE_MS, short here) takes them over.
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const RECLAIM_IDLE_MS = 1000;

interface TurnBody {
  messageNumber: number;
  revision: number;
  updatedAt: string;
  receivedAt: string;
  rawText: string;
  speaker: string;
  spokenAt: string;
  cleanedText: string | null;
  cleaningLevel: string;
  businessDomain: string | null;
  persistedAt: string | null;
  [key: string]: unknown;
}

interface RevisionBody {
  revision: number;
  changedBy: string | null;
  changedAt: string;
  changes: Record<string, unknown>;
}

interface StoredRow {
  revision: number;
  cleaned_text: string | null;
  cleaning_level: string;
  business_domain: string | null;
  updated_at: Date | null;
}

describe('Turn revisions (SPEC section 10)', () => {
  let t: TestApp;
  let admin: Session;
  let worker: Session;
  const env = {
    WORKERS_ENABLED: 'false',
    // Its own buffer stream: another spec's in-process workers must not drain this one's.
    REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-revisions-${Date.now().toString(36)}`,
    TURN_RECLAIM_IDLE_MS: String(RECLAIM_IDLE_MS),
  };

  beforeAll(async () => {
    t = await startApp(env);
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  const base = (id: string, rest = '') => `/api/v1/conversations/${id}${rest}`;
  const drain = () => t.app.get(TurnPersistenceService).drain(10_000);
  const post = (session: Session, id: string, body: unknown) =>
    t.http
      .post(base(id, '/turns'))
      .set(session.auth)
      .send(body as object)
      .expect(202);
  const patch = (
    session: Session,
    id: string,
    n: number,
    body: object,
    ifMatch?: string,
    via: TestApp = t,
  ) => {
    const request = via.http.patch(base(id, `/turns/${n}`)).set(session.auth);
    if (ifMatch !== undefined) void request.set('If-Match', ifMatch);
    return request.send(body);
  };
  const getTurn = async (id: string, n: number): Promise<TurnBody> =>
    (
      await t.http
        .get(base(id, `/turns/${n}`))
        .set(worker.auth)
        .expect(200)
    ).body as TurnBody;
  const history = async (id: string, n: number): Promise<RevisionBody[]> =>
    (
      (
        await t.http
          .get(base(id, `/turns/${n}/revisions`))
          .set(worker.auth)
          .expect(200)
      ).body as {
        data: RevisionBody[];
      }
    ).data;
  const stored = async (id: string, n: number): Promise<StoredRow | undefined> =>
    (
      await t.db.query<StoredRow[]>(
        `SELECT revision, cleaned_text, cleaning_level, business_domain, updated_at
           FROM turns WHERE conversation_id = $1 AND message_number = $2`,
        [id, n],
      )
    )[0];
  const storedRevisions = async (id: string, n: number): Promise<number[]> =>
    (
      await t.db.query<{ revision: number }[]>(
        'SELECT revision FROM turn_revisions WHERE conversation_id = $1 AND message_number = $2 ORDER BY revision',
        [id, n],
      )
    ).map((r) => r.revision);

  describe('PATCH while the turn is still in the Redis buffer', () => {
    it('answers the turn as it now is (revision 2), and the revision reaches Postgres with its turn', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1, { rawText: 'um the the contract' }));
      const response = await patch(worker, conversation.id, 1, {
        cleanedText: 'The contract',
        cleaningApplied: true,
        cleaningLevel: 'full',
        businessDomain: 'legal',
      }).expect(200);
      const revised = response.body as TurnBody;
      expect(revised).toMatchObject({
        messageNumber: 1,
        rawText: 'um the the contract',
        cleanedText: 'The contract',
        cleaningApplied: true,
        cleaningLevel: 'full',
        businessDomain: 'legal',
        revision: 2,
        persistedAt: null,
      });
      expect(Date.parse(revised.updatedAt)).toBeGreaterThanOrEqual(Date.parse(revised.receivedAt));
      expect(await stored(conversation.id, 1)).toBeUndefined();

      // Reads see it before persistence: the single turn, the list, the history.
      expect(await getTurn(conversation.id, 1)).toMatchObject({
        revision: 2,
        cleaningLevel: 'full',
      });
      const listed = await t.http.get(base(conversation.id, '/turns')).set(worker.auth).expect(200);
      expect(listed.body.data).toEqual([
        expect.objectContaining({ revision: 2, cleanedText: 'The contract' }),
      ]);
      const before = await history(conversation.id, 1);
      expect(before.map((r) => r.revision)).toEqual([1, 2]);
      expect(before[0]).toMatchObject({
        changedBy: worker.userId,
        changes: { cleanedText: null, cleaningLevel: 'none' },
      });
      expect(before[1]).toEqual({
        revision: 2,
        changedBy: worker.userId,
        changedAt: revised.updatedAt,
        changes: {
          cleanedText: 'The contract',
          cleaningApplied: true,
          cleaningLevel: 'full',
          businessDomain: 'legal',
        },
      });

      await drain();
      expect(await stored(conversation.id, 1)).toMatchObject({
        revision: 2,
        cleaned_text: 'The contract',
        cleaning_level: 'full',
        business_domain: 'legal',
      });
      expect(await storedRevisions(conversation.id, 1)).toEqual([1, 2]);
      expect(await history(conversation.id, 1)).toEqual(before);
      const after = await getTurn(conversation.id, 1);
      expect(after).toMatchObject({
        revision: 2,
        updatedAt: revised.updatedAt,
        cleanedText: 'The contract',
      });
      expect(after.persistedAt).not.toBeNull();
      const [row] = await t.db.query<{ turns_count: string }[]>(
        'SELECT turns_count FROM conversations WHERE id = $1',
        [conversation.id],
      );
      expect(Number(row!.turns_count)).toBe(1);
    });

    it('R9: a worker killed holding the turn; the revision is persisted first, with its turn, and the turn once', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      const buffer = t.app.get(TurnBuffer);
      // A worker takes the turn's entry and dies before storing it.
      const taken = await buffer.readNew('killed-worker', 1000);
      expect(taken.some((e) => e.conversationId === conversation.id)).toBe(true);
      await patch(worker, conversation.id, 1, { cleanedText: 'first' }).expect(200);
      await patch(worker, conversation.id, 1, { cleanedText: 'second' }).expect(200);
      // The live worker gets the revisions (new entries) before the turn's entry is reclaimed.
      await drain();
      await new Promise((resolve) => setTimeout(resolve, RECLAIM_IDLE_MS + 100));
      await drain();
      expect(await stored(conversation.id, 1)).toMatchObject({
        revision: 3,
        cleaned_text: 'second',
      });
      expect(await storedRevisions(conversation.id, 1)).toEqual([1, 2, 3]);
      const [row] = await t.db.query<{ turns_count: string; n: number }[]>(
        `SELECT c.turns_count, (SELECT count(*)::int FROM turns WHERE conversation_id = c.id) AS n
           FROM conversations c WHERE c.id = $1`,
        [conversation.id],
      );
      expect({ counted: Number(row!.turns_count), rows: row!.n }).toEqual({ counted: 1, rows: 1 });
      expect((await buffer.backlog()).length).toBe(0);
    });
  });

  describe('PATCH of a turn persisted since its last PATCH here', () => {
    it('answers with the row once the turn is persisted, though the base came from memory', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(3));
      const buffered = await patch(worker, conversation.id, 3, { cleanedText: 'first' }).expect(
        200,
      );
      expect(buffered.body).toMatchObject({ revision: 2, persistedAt: null, id: null });
      await drain();
      const persisted = await patch(worker, conversation.id, 3, { cleaningLevel: 'full' }).expect(
        200,
      );
      const [row] = await t.db.query<{ id: string }[]>(
        'SELECT id::text AS id FROM turns WHERE conversation_id = $1 AND message_number = 3',
        [conversation.id],
      );
      expect(persisted.body).toMatchObject({
        revision: 3,
        cleanedText: 'first',
        cleaningLevel: 'full',
        id: row!.id,
      });
      expect((persisted.body as TurnBody).persistedAt).not.toBeNull();
    });
  });

  describe('PATCH of a persisted turn', () => {
    it('numbers each revision, keeps every one, and stores the latest', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(7, { cleanedText: 'as posted' }));
      await drain();
      await patch(worker, conversation.id, 7, { cleaningLevel: 'light' }).expect(200);
      const second = await patch(worker, conversation.id, 7, { cleanedText: 'final' }).expect(200);
      expect(second.body).toMatchObject({
        revision: 3,
        cleaningLevel: 'light',
        cleanedText: 'final',
      });
      expect((second.body as TurnBody).persistedAt).not.toBeNull();
      await drain();
      expect(await stored(conversation.id, 7)).toMatchObject({
        revision: 3,
        cleaning_level: 'light',
        cleaned_text: 'final',
      });
      expect((await history(conversation.id, 7)).map((r) => [r.revision, r.changes])).toEqual([
        [1, expect.objectContaining({ cleanedText: 'as posted', cleaningLevel: 'none' })],
        [2, { cleaningLevel: 'light' }],
        [3, { cleanedText: 'final' }],
      ]);
    });

    it('clears a nullable field with null', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1, { businessDomain: 'finance' }));
      await drain();
      const response = await patch(worker, conversation.id, 1, { businessDomain: null }).expect(
        200,
      );
      expect(response.body).toMatchObject({ businessDomain: null, revision: 2 });
      await drain();
      expect(await stored(conversation.id, 1)).toMatchObject({
        business_domain: null,
        revision: 2,
      });
    });
  });

  describe('what may not change', () => {
    it.each([
      ['rawText', 'changed'],
      ['speaker', 'Speaker_9'],
      ['spokenAt', new Date().toISOString()],
      ['messageNumber', 2],
      ['confidence', 0.5],
      ['receivedAt', new Date().toISOString()],
    ])('400 when %s is sent, and nothing changes', async (field, value) => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      const response = await patch(worker, conversation.id, 1, {
        cleanedText: 'x',
        [field]: value,
      });
      expect(expectProblem(response, 400).errors).toEqual([expect.objectContaining({ field })]);
      expect(await getTurn(conversation.id, 1)).toMatchObject({ revision: 1, cleanedText: null });
    });

    it('400 for an empty body, or null for a field that cannot be empty', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      expectProblem(await patch(worker, conversation.id, 1, {}), 400);
      for (const field of [
        'cleaningLevel',
        'cleaningApplied',
        'corrections',
        'transcriptionErrorDetected',
      ]) {
        const response = await patch(worker, conversation.id, 1, { [field]: null });
        const errors = expectProblem(response, 400).errors ?? [];
        expect(errors).toContainEqual({
          field,
          message: `${field} must not be null (leave it out instead)`,
        });
        expect(errors.every((e) => e.field === field)).toBe(true);
      }
      expect((await getTurn(conversation.id, 1)).revision).toBe(1);
    });

    it('404 for a turn not received, in PATCH, GET and its revisions; 400 for a malformed number', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      expectProblem(await patch(worker, conversation.id, 2, { cleanedText: 'x' }), 404);
      expectProblem(await t.http.get(base(conversation.id, '/turns/2')).set(worker.auth), 404);
      expectProblem(
        await t.http.get(base(conversation.id, '/turns/2/revisions')).set(worker.auth),
        404,
      );
      expectProblem(await t.http.get(base(conversation.id, '/turns/0')).set(worker.auth), 400);
      expectProblem(await patch(worker, conversation.id, 10_000_001, { cleanedText: 'x' }), 400);
    });

    it('409 once the conversation has ended, buffered revisions sealed in', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      await patch(worker, conversation.id, 1, { cleanedText: 'clean' }).expect(200);
      await drain();
      await t.http.post(base(conversation.id, '/end')).set(worker.auth).expect(200);
      const response = await patch(worker, conversation.id, 1, { cleanedText: 'late' });
      expect(expectProblem(response, 409).type).toContain('conversation-not-active');
      expect(await getTurn(conversation.id, 1)).toMatchObject({
        revision: 2,
        cleanedText: 'clean',
      });
    });
  });

  describe('If-Match and concurrency', () => {
    it('applies a PATCH whose If-Match names the current revision, 412 otherwise', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      await patch(worker, conversation.id, 1, { cleanedText: 'a' }, '"1"').expect(200);
      const stale = await patch(worker, conversation.id, 1, { cleanedText: 'b' }, '"1"');
      expectProblem(stale, 412);
      await patch(worker, conversation.id, 1, { cleanedText: 'c' }, '"2"').expect(200);
      expectProblem(await patch(worker, conversation.id, 1, { cleanedText: 'd' }, 'nonsense'), 400);
      expect(await getTurn(conversation.id, 1)).toMatchObject({ revision: 3, cleanedText: 'c' });
    });

    it('gives each of 20 concurrent PATCHes its own revision number, buffered or persisted', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          patch(worker, conversation.id, 1, { cleanedText: `v${i}` }).expect(200),
        ),
      );
      const numbers = responses.map((r) => (r.body as TurnBody).revision).sort((a, b) => a - b);
      expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
      const last = responses.find((r) => (r.body as TurnBody).revision === 21)!.body as TurnBody;
      await drain();
      expect(await storedRevisions(conversation.id, 1)).toEqual(
        Array.from({ length: 21 }, (_, i) => i + 1),
      );
      expect(await stored(conversation.id, 1)).toMatchObject({
        revision: 21,
        cleaned_text: last.cleanedText,
      });
    });

    it('of 10 concurrent PATCHes with the same If-Match, exactly one wins', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      await drain();
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          patch(worker, conversation.id, 1, { cleanedText: `w${i}` }, '"1"'),
        ),
      );
      expect(responses.map((r) => r.status).sort()).toEqual([200, ...Array<number>(9).fill(412)]);
    });
  });

  describe('seed-compatible fields', () => {
    it('takes a correction confidence as a level or a number, contextRelevance, engineRequestId and websocketLatencyMs', async () => {
      const conversation = await createConversation(t.http, worker);
      const corrections = [
        {
          original: 'teh',
          corrected: 'the',
          confidence: 'HIGH',
          reason: 'typo',
          position: { start: 0, end: 3 },
          contextRelevance: 'legal',
        },
        {
          original: 'a',
          corrected: 'an',
          confidence: 0.4,
          reason: 'grammar',
          position: { start: 4, end: 5 },
        },
      ];
      await post(
        worker,
        conversation.id,
        turn(1, { engineRequestId: 'req-1', websocketLatencyMs: 12, corrections }),
      );
      expect(await getTurn(conversation.id, 1)).toMatchObject({
        engineRequestId: 'req-1',
        websocketLatencyMs: 12,
        corrections,
      });
      const revised = await patch(worker, conversation.id, 1, {
        engineRequestId: 'req-2',
        websocketLatencyMs: 40,
        corrections: [{ ...corrections[0], confidence: 'LOW' }],
      }).expect(200);
      expect(revised.body).toMatchObject({
        engineRequestId: 'req-2',
        websocketLatencyMs: 40,
        revision: 2,
      });
      await drain();
      expect(await getTurn(conversation.id, 1)).toMatchObject({
        engineRequestId: 'req-2',
        websocketLatencyMs: 40,
        corrections: [{ ...corrections[0], confidence: 'LOW' }],
      });
    });

    it.each([
      ['an unknown correction key', { extra: 1 }],
      ['an unknown confidence level', { confidence: 'VERY_HIGH' }],
      ['a confidence above 1', { confidence: 1.5 }],
    ])('refuses %s (400)', async (_, change) => {
      const conversation = await createConversation(t.http, worker);
      const correction = {
        original: 'a',
        corrected: 'b',
        confidence: 1,
        reason: 'r',
        position: { start: 0, end: 1 },
        ...change,
      };
      expectProblem(
        await t.http
          .post(base(conversation.id, '/turns'))
          .set(worker.auth)
          .send(turn(1, { corrections: [correction] })),
        400,
      );
      await post(worker, conversation.id, turn(1));
      expectProblem(await patch(worker, conversation.id, 1, { corrections: [correction] }), 400);
    });
  });

  describe('who may revise', () => {
    it('a viewer reads the turn and its history but may not revise (403); a non-participant sees nothing (404)', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(1));
      const viewer = await userSession(t.http, admin, 'case_worker');
      const member = await userSession(t.http, admin, 'case_worker');
      const outsider = await userSession(t.http, admin, 'case_worker');
      const supervisor = await userSession(t.http, admin, 'supervisor');
      for (const [session, role] of [
        [viewer, 'viewer'],
        [member, 'member'],
      ] as const) {
        await t.http
          .post(base(conversation.id, '/participants'))
          .set(worker.auth)
          .send({ userId: session.userId, role })
          .expect(201);
      }
      await t.http.get(base(conversation.id, '/turns/1')).set(viewer.auth).expect(200);
      await t.http.get(base(conversation.id, '/turns/1/revisions')).set(viewer.auth).expect(200);
      expectProblem(await patch(viewer, conversation.id, 1, { cleanedText: 'x' }), 403);
      expectProblem(await patch(outsider, conversation.id, 1, { cleanedText: 'x' }), 404);
      expectProblem(await t.http.get(base(conversation.id, '/turns/1')).set(outsider.auth), 404);
      expectProblem(
        await t.http.get(base(conversation.id, '/turns/1/revisions')).set(outsider.auth),
        404,
      );
      await patch(member, conversation.id, 1, { cleanedText: 'by member' }).expect(200);
      await patch(supervisor, conversation.id, 1, { cleanedText: 'by supervisor' }).expect(200);
      expect((await history(conversation.id, 1)).map((r) => r.changedBy)).toEqual([
        worker.userId,
        member.userId,
        supervisor.userId,
      ]);
    });
  });

  describe('the seal', () => {
    it('covers the latest revision of each turn, and /verify detects a change to it', async () => {
      const sealOf = async (revise: boolean) => {
        const conversation = await createConversation(t.http, worker);
        await post(worker, conversation.id, {
          turns: [turn(1, { rawText: 'same' }), turn(2, { rawText: 'same too' })],
        });
        if (revise)
          await patch(worker, conversation.id, 2, { cleanedText: 'Same too.' }).expect(200);
        await drain();
        const ended = await t.http.post(base(conversation.id, '/end')).set(worker.auth).expect(200);
        return { id: conversation.id, sealHash: (ended.body as { sealHash: string }).sealHash };
      };
      const plain = await sealOf(false);
      const revised = await sealOf(true);
      expect(revised.sealHash).toMatch(/^[0-9a-f]{64}$/);
      expect(revised.sealHash).not.toBe(plain.sealHash);
      const verified = await t.http.get(base(revised.id, '/verify')).set(worker.auth).expect(200);
      expect(verified.body).toMatchObject({ valid: true, turns: 2 });
      // Rolling the stored turn back to its first revision breaks the seal.
      await t.db.query(
        `UPDATE turns SET cleaned_text = NULL, revision = 1 WHERE conversation_id = $1 AND message_number = 2`,
        [revised.id],
      );
      const broken = await t.http.get(base(revised.id, '/verify')).set(worker.auth).expect(200);
      expect(broken.body).toMatchObject({ valid: false });
    });
  });

  describe('property: any interleaving of POSTed turns and PATCHed revisions', () => {
    type Step =
      | { kind: 'post'; n: number }
      | { kind: 'patch'; n: number; text: string; level: 'none' | 'light' | 'full' }
      | { kind: 'drain' };
    const TURNS = 4;
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('post' as const), n: fc.integer({ min: 1, max: TURNS }) }),
      fc.record({
        kind: fc.constant('patch' as const),
        n: fc.integer({ min: 1, max: TURNS }),
        text: fc.string({ maxLength: 12 }),
        level: fc.constantFrom('none' as const, 'light' as const, 'full' as const),
      }),
      fc.record({ kind: fc.constant('drain' as const) }),
    );

    it('ends with every revision in the history and the latest stored, for every turn', async () => {
      await fc.assert(
        fc.asyncProperty(
          // Steps in a group run at once (concurrent requests); groups run in order.
          fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
          async (groups) => {
            const conversation = await createConversation(t.http, worker);
            const posted = new Set<number>();
            /** Per turn, what each acknowledged revision set. */
            const accepted = new Map<
              number,
              Map<number, { cleanedText: string; cleaningLevel: string }>
            >();
            for (const group of groups) {
              await Promise.all(
                group.map(async (s) => {
                  if (s.kind === 'drain') return drain();
                  if (s.kind === 'post') {
                    await post(worker, conversation.id, turn(s.n));
                    posted.add(s.n);
                    return;
                  }
                  const wasPosted = posted.has(s.n);
                  const response = await patch(worker, conversation.id, s.n, {
                    cleanedText: s.text,
                    cleaningLevel: s.level,
                  });
                  if (response.status === 404 && !wasPosted) return;
                  expect(response.status).toBe(200);
                  const { revision } = response.body as TurnBody;
                  const revisions = accepted.get(s.n) ?? new Map();
                  expect(revisions.has(revision)).toBe(false);
                  revisions.set(revision, { cleanedText: s.text, cleaningLevel: s.level });
                  accepted.set(s.n, revisions);
                }),
              );
            }
            await drain();
            for (const n of posted) {
              const revisions = accepted.get(n) ?? new Map();
              const latest = revisions.size + 1;
              const expectedHistory = Array.from({ length: latest }, (_, i) => i + 1);
              expect(await storedRevisions(conversation.id, n)).toEqual(
                revisions.size === 0 ? [] : expectedHistory,
              );
              expect((await history(conversation.id, n)).map((r) => r.revision)).toEqual(
                expectedHistory,
              );
              const row = await stored(conversation.id, n);
              expect(row?.revision).toBe(latest);
              if (revisions.size > 0) {
                const last = revisions.get(latest)!;
                expect(row).toMatchObject({
                  cleaned_text: last.cleanedText,
                  cleaning_level: last.cleaningLevel,
                });
              }
              expect(await getTurn(conversation.id, n)).toMatchObject({ revision: latest });
            }
            expect(await t.app.get(TurnBuffer).pendingCount(conversation.id)).toBe(0);
          },
        ),
        { numRuns: 25, seed: SEED, endOnFailure: true },
      );
    });
  });

  describe('two API replicas', () => {
    // Passport keeps one strategy per name per process, the latest app's: closing the
    // replica would leave the first app authenticating through a closed one, so it
    // stays up to the end of the file, and this block comes last.
    let other: TestApp;
    beforeAll(async () => {
      other = await startApp(env);
    });
    afterAll(() => other.close());

    it('never builds on what this replica remembers when another replica revised the turn since', async () => {
      const conversation = await createConversation(t.http, worker);
      await post(worker, conversation.id, turn(4));
      await post(worker, conversation.id, turn(5));
      // Turn 4: this replica remembers it as ingested; the other revises it first.
      await patch(worker, conversation.id, 4, { cleanedText: 'there' }, undefined, other).expect(
        200,
      );
      const four = await patch(worker, conversation.id, 4, { cleaningLevel: 'full' }).expect(200);
      expect(four.body).toMatchObject({
        revision: 3,
        cleanedText: 'there',
        cleaningLevel: 'full',
      });
      // Turn 5: this replica remembers its own revision 2; the other makes revision 3.
      await patch(worker, conversation.id, 5, { cleanedText: 'here' }).expect(200);
      await patch(worker, conversation.id, 5, { businessDomain: 'legal' }, undefined, other).expect(
        200,
      );
      const five = await patch(worker, conversation.id, 5, { cleaningLevel: 'light' }).expect(200);
      expect(five.body).toMatchObject({
        revision: 4,
        cleanedText: 'here',
        businessDomain: 'legal',
        cleaningLevel: 'light',
      });
      await drain();
      expect(await storedRevisions(conversation.id, 4)).toEqual([1, 2, 3]);
      expect(await storedRevisions(conversation.id, 5)).toEqual([1, 2, 3, 4]);
      expect(await stored(conversation.id, 5)).toMatchObject({
        revision: 4,
        cleaned_text: 'here',
        business_domain: 'legal',
        cleaning_level: 'light',
      });
    });
  });
});
