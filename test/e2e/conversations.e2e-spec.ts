import { AppConfig } from '../../src/core/config/app-config';
import { loginAsAdmin, randomIp, Session, startApp, TestApp, userSession } from '../support/app';
import { TurnBuffer } from '../../src/conversations/turns/turn-buffer';
import { TurnRecord } from '../../src/conversations/turns/turn-record';
import { TurnPersistenceService } from '../../src/conversations/turns/turn-persistence.service';
import { createConversation, eventually, turn, uniqueName } from '../support/turns';

describe('Conversations and live turns (SPEC section 6)', () => {
  let t: TestApp;
  let admin: Session;
  let worker: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  const persistedCount = async (conversationId: string): Promise<number> => {
    const [row] = await t.db.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
      [conversationId],
    );
    return row!.n;
  };

  describe('creating and joining', () => {
    it('creates a conversation whose creator is a participant, with a unique active name', async () => {
      const name = uniqueName();
      const response = await t.http
        .post('/api/v1/conversations')
        .set(worker.auth)
        .send({ name, metadata: { room: 3 } })
        .expect(201);
      expect(response.body).toMatchObject({
        name,
        status: 'active',
        turnsCount: 0,
        metadata: { room: 3 },
        hasJoinPassword: false,
      });
      expect(response.headers.location).toBe(`/api/v1/conversations/${response.body.id}`);
      await t.http
        .post('/api/v1/conversations')
        .set(worker.auth)
        .send({ name: name.toUpperCase() })
        .expect(409);
    });

    it('lets a team member join by name and password; a wrong password is 403', async () => {
      const conversation = await createConversation(t.http, worker, {
        joinPassword: 'team-secret-1',
      });
      const teammate = await userSession(t.http, admin, 'case_worker');
      await t.http.get(`/api/v1/conversations/${conversation.id}`).set(teammate.auth).expect(404);
      await t.http
        .post('/api/v1/conversations/join')
        .set(teammate.auth)
        .send({ name: conversation.name, password: 'wrong' })
        .expect(403);
      const joined = await t.http
        .post('/api/v1/conversations/join')
        .set(teammate.auth)
        .send({ name: conversation.name, password: 'team-secret-1' })
        .expect(200);
      expect(joined.body.id).toBe(conversation.id);
      await t.http.get(`/api/v1/conversations/${conversation.id}`).set(teammate.auth).expect(200);
    });

    it('F2: 30 concurrent wrong guesses get at most LOGIN_MAX_FAILURES password checks, then 429 even for the right one', async () => {
      const maxFailures = t.app.get(AppConfig).get('LOGIN_MAX_FAILURES');
      const conversation = await createConversation(t.http, worker, {
        joinPassword: 'team-secret-f2',
      });
      const guesser = await userSession(t.http, admin, 'case_worker');
      const ip = randomIp();
      const join = (password: string) =>
        t.http
          .post('/api/v1/conversations/join')
          .set(guesser.auth)
          .set('X-Forwarded-For', ip)
          .send({ name: conversation.name, password });
      const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => join(`guess-${i}`)));
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 403 || s === 429)).toBe(true);
      expect(statuses.filter((s) => s === 403).length).toBeLessThanOrEqual(maxFailures);
      for (const refused of responses.filter((r) => r.status === 429)) {
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      // One audit entry per password checked: no more than the limit were checked.
      const [checked] = await t.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_logs
          WHERE action = 'conversation.join_failed' AND resource_id = $1`,
        [conversation.id],
      );
      expect(checked!.n).toBeLessThanOrEqual(maxFailures);
      const locked = await join('team-secret-f2');
      expect(locked.status).toBe(429);
      expect(locked.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await t.http.get(`/api/v1/conversations/${conversation.id}`).set(guesser.auth).expect(404);
    });

    it('F5: caps metadata at 64 KiB (413) and 16 levels of nesting (400) on create and update', async () => {
      const conversation = await createConversation(t.http, worker, { metadata: { room: 1 } });
      const name = uniqueName();
      // 64 KiB as JSON exactly is accepted: {"b":"…"} is 8 bytes of framing.
      const atLimit = { b: 'x'.repeat(64 * 1024 - 8) };
      await t.http
        .post('/api/v1/conversations')
        .set(worker.auth)
        .send({ name, metadata: atLimit })
        .expect(201);
      const overLimit = { b: 'x'.repeat(64 * 1024 - 7) };
      for (const request of [
        t.http.post('/api/v1/conversations').send({ name: uniqueName(), metadata: overLimit }),
        t.http.patch(`/api/v1/conversations/${conversation.id}`).send({ metadata: overLimit }),
      ]) {
        const response = await request.set(worker.auth);
        expect(response.status).toBe(413);
        expect(response.headers['content-type']).toMatch(/problem\+json/);
        expect(response.body.errors).toEqual([
          { field: 'metadata', message: expect.stringContaining('64 KiB') },
        ]);
      }
      let deep: Record<string, unknown> = { leaf: 1 };
      for (let level = 1; level < 17; level++) deep = { d: deep };
      const tooDeep = await t.http
        .patch(`/api/v1/conversations/${conversation.id}`)
        .set(worker.auth)
        .send({ metadata: deep })
        .expect(400);
      expect(tooDeep.body.errors).toEqual([
        { field: 'metadata', message: expect.stringContaining('16 levels') },
      ]);
      const unchanged = await t.http
        .get(`/api/v1/conversations/${conversation.id}`)
        .set(worker.auth)
        .expect(200);
      expect(unchanged.body).toMatchObject({ metadata: { room: 1 }, version: 1 });
      await t.http
        .patch(`/api/v1/conversations/${conversation.id}`)
        .set(worker.auth)
        .send({ metadata: (deep as { d: unknown }).d })
        .expect(200);
    });

    it('F9: PATCH with name, description or metadata null is a 400 naming the field', async () => {
      const conversation = await createConversation(t.http, worker);
      for (const field of ['name', 'description', 'metadata']) {
        const response = await t.http
          .patch(`/api/v1/conversations/${conversation.id}`)
          .set(worker.auth)
          .send({ [field]: null })
          .expect(400);
        expect(response.body.errors).toEqual(
          expect.arrayContaining([{ field, message: expect.stringContaining('must not be null') }]),
        );
      }
    });

    it('never returns the join password or its hash', async () => {
      const conversation = await createConversation(t.http, worker, {
        joinPassword: 'team-secret-2',
      });
      const response = await t.http
        .get(`/api/v1/conversations/${conversation.id}`)
        .set(worker.auth)
        .expect(200);
      expect(JSON.stringify(response.body)).not.toMatch(/team-secret-2|argon2|joinPassword"/);
      expect(response.body.hasJoinPassword).toBe(true);
    });
  });

  describe('ingesting turns', () => {
    it('accepts a single turn or a batch with 202 and counts duplicates by messageNumber', async () => {
      const conversation = await createConversation(t.http, worker);
      const single = await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send(turn(1))
        .expect(202);
      expect(single.body).toEqual({ accepted: 1, duplicates: 0 });
      const batch = await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: [turn(1), turn(2), turn(3), turn(3)] })
        .expect(202);
      expect(batch.body).toEqual({ accepted: 2, duplicates: 2 });
      expect(
        await eventually(
          () => persistedCount(conversation.id),
          (n) => n === 3,
        ),
      ).toBe(3);
    });

    it('reads its own writes at once, before persistence, in messageNumber order', async () => {
      const conversation = await createConversation(t.http, worker);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: [turn(3), turn(1), turn(2)] })
        .expect(202);
      const listed = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .expect(200);
      expect(listed.body.data.map((x: { messageNumber: number }) => x.messageNumber)).toEqual([
        1, 2, 3,
      ]);
      expect(listed.body.meta.nextCursor).toBeNull();
    });

    it('persists every field with server timestamps and derived confidence levels', async () => {
      const conversation = await createConversation(t.http, worker);
      const full = turn(1, {
        cleanedText: 'Turn number one.',
        confidence: 0.7,
        cleaningApplied: true,
        cleaningLevel: 'light',
        corrections: [
          {
            original: 'numbr',
            corrected: 'number',
            confidence: 0.8,
            reason: 'spelling',
            position: { start: 5, end: 10 },
          },
        ],
        contextDetected: 'greeting',
        businessDomain: 'legal',
        conversationFlow: 'opening',
        aiModelUsed: 'model-x',
        transcriptionErrorDetected: true,
        processingTimeMs: 120,
        slidingWindowSize: 20,
        contextTurnsUsed: 5,
      });
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send(full)
        .expect(202);
      const persisted = await eventually(
        async () =>
          (await t.http.get(`/api/v1/conversations/${conversation.id}/turns`).set(worker.auth)).body
            .data[0],
        (x: { id: string; persistedAt: string; receivedAt: string; queueTimeMs: number }) =>
          x.persistedAt !== null,
      );
      expect(persisted).toMatchObject({
        messageNumber: 1,
        cleanedText: 'Turn number one.',
        confidenceLevel: 'MEDIUM',
        cleaningLevel: 'light',
        corrections: [{ original: 'numbr', corrected: 'number', position: { start: 5, end: 10 } }],
        businessDomain: 'legal',
        processingTimeMs: 120,
      });
      expect(persisted.id).toMatch(/^\d+$/);
      expect(persisted.queueTimeMs).toBe(
        Date.parse(persisted.persistedAt) - Date.parse(persisted.receivedAt),
      );
      const conversationAfter = await t.http
        .get(`/api/v1/conversations/${conversation.id}`)
        .set(worker.auth)
        .expect(200);
      expect(conversationAfter.body).toMatchObject({ turnsCount: 1, totalProcessingTimeMs: 120 });
      expect(conversationAfter.body.averageConfidence).toBeCloseTo(0.7, 5);
    });

    it('rejects malformed turns with field paths and stores nothing', async () => {
      const conversation = await createConversation(t.http, worker);
      const response = await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: [turn(1), turn(2, { confidence: 1.5, extra: true })] })
        .expect(400);
      expect(response.body.errors).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: 'turns[1].confidence' }),
          expect.objectContaining({ field: 'turns[1].extra' }),
        ]),
      );
      const listed = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .expect(200);
      expect(listed.body.data).toEqual([]);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: Array.from({ length: 1001 }, (_, i) => turn(i + 1)) })
        .expect(400);
    });

    it.each([
      ['ESC', 'rawText', 'clear \u001b[2J screen'],
      ['BEL', 'rawText', 'ring \u0007'],
      ['U+202E', 'rawText', 'abc\u202eevil.exe'],
      ['ESC', 'speaker', 'Speaker\u001b[31m'],
      ['U+202E', 'speaker', '\u202eSpeaker_0'],
      ['a line feed', 'speaker', 'Speaker\n0'],
      ['BEL', 'cleanedText', 'ring \u0007'],
      ['U+2066', 'businessDomain', '\u2066legal'],
    ])(
      'I11 control characters in live turns: refuses %s in %s (400 naming turns[i].field), stores nothing',
      async (_, field, value) => {
        const conversation = await createConversation(t.http, worker);
        const response = await t.http
          .post(`/api/v1/conversations/${conversation.id}/turns`)
          .set(worker.auth)
          .send({ turns: [turn(1), turn(2, { [field]: value }), turn(3)] })
          .expect(400);
        expect(response.body.errors).toEqual([
          {
            field: `turns[1].${field}`,
            message: expect.stringContaining('control or bidirectional-override') as string,
          },
        ]);
        const listed = await t.http
          .get(`/api/v1/conversations/${conversation.id}/turns`)
          .set(worker.auth)
          .expect(200);
        expect(listed.body.data).toEqual([]);
        expect(await persistedCount(conversation.id)).toBe(0);
      },
    );

    it('I11 control characters in live turns: tab and line breaks stay allowed in text', async () => {
      const conversation = await createConversation(t.http, worker);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: [turn(1, { rawText: 'line one\r\nline two\tend' })] })
        .expect(202);
      const listed = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .expect(200);
      expect(listed.body.data[0].rawText).toBe('line one\r\nline two\tend');
    });

    it('stores one row per messageNumber when the same batch is sent twice concurrently (R4)', async () => {
      const conversation = await createConversation(t.http, worker);
      const batch = { turns: Array.from({ length: 200 }, (_, i) => turn(i + 1)) };
      const results = await Promise.all(
        [1, 2].map(() =>
          t.http
            .post(`/api/v1/conversations/${conversation.id}/turns`)
            .set(worker.auth)
            .send(batch)
            .expect(202),
        ),
      );
      expect(results.map((r) => r.body.accepted).reduce((a, b) => a + b)).toBe(200);
      expect(
        await eventually(
          () => persistedCount(conversation.id),
          (n) => n === 200,
        ),
      ).toBe(200);
      const [row] = await t.db.query<{ turns: string }[]>(
        'SELECT turns_count::text AS turns FROM conversations WHERE id = $1',
        [conversation.id],
      );
      expect(row!.turns).toBe('200');
    });
  });

  describe('reading turns', () => {
    it('pages with a messageNumber cursor, serves the sliding window oldest first and recent turns', async () => {
      const conversation = await createConversation(t.http, worker);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({
          turns: Array.from({ length: 30 }, (_, i) =>
            turn(i + 1, { spokenAt: new Date().toISOString() }),
          ),
        })
        .expect(202);
      const first = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns`)
        .query({ limit: 25 })
        .set(worker.auth)
        .expect(200);
      expect(first.body.meta.nextCursor).toBe('25');
      const second = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns`)
        .query({ after: first.body.meta.nextCursor, limit: 25 })
        .set(worker.auth)
        .expect(200);
      expect(second.body.data.map((x: { messageNumber: number }) => x.messageNumber)).toEqual([
        26, 27, 28, 29, 30,
      ]);

      const window = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns/window`)
        .query({ size: 5, before: 20 })
        .set(worker.auth)
        .expect(200);
      expect(window.body.data.map((x: { messageNumber: number }) => x.messageNumber)).toEqual([
        15, 16, 17, 18, 19,
      ]);

      const recent = await t.http
        .get(`/api/v1/conversations/${conversation.id}/turns/recent`)
        .query({ minutes: 5 })
        .set(worker.auth)
        .expect(200);
      expect(recent.body.data).toHaveLength(30);
    });
  });

  describe('stats', () => {
    it('reports confidence percentages, breakdowns and the missing messageNumber ranges', async () => {
      const conversation = await createConversation(t.http, worker);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({
          turns: [
            turn(1, { confidence: 0.9, businessDomain: 'legal' }),
            turn(2, { confidence: 0.7, businessDomain: 'legal' }),
            turn(5, { confidence: 0.3, businessDomain: 'medical' }),
            turn(6, { confidence: 0.95 }),
          ],
        })
        .expect(202);
      await eventually(
        () => persistedCount(conversation.id),
        (n) => n === 4,
      );
      const stats = await t.http
        .get(`/api/v1/conversations/${conversation.id}/stats`)
        .set(worker.auth)
        .expect(200);
      expect(stats.body).toMatchObject({
        turns: 4,
        confidenceDistribution: { HIGH: 50, MEDIUM: 25, LOW: 25 },
        gaps: [{ from: 3, to: 4 }],
      });
      expect(stats.body.domains).toEqual(expect.arrayContaining([{ value: 'legal', turns: 2 }]));
    });
  });

  describe('ending and sealing', () => {
    it('drains, seals, refuses further turns with 409, and verifies the seal', async () => {
      const conversation = await createConversation(t.http, worker);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send({ turns: Array.from({ length: 50 }, (_, i) => turn(i + 1)) })
        .expect(202);
      const ended = await t.http
        .post(`/api/v1/conversations/${conversation.id}/end`)
        .set(worker.auth)
        .expect(200);
      expect(ended.body).toMatchObject({ status: 'archived', turnsCount: 50 });
      expect(ended.body.sealHash).toMatch(/^[0-9a-f]{64}$/);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(worker.auth)
        .send(turn(51))
        .expect(409);
      const verified = await t.http
        .get(`/api/v1/conversations/${conversation.id}/verify`)
        .set(worker.auth)
        .expect(200);
      expect(verified.body).toMatchObject({
        valid: true,
        turns: 50,
        sealHash: ended.body.sealHash,
      });

      await t.db.query(
        `UPDATE turns SET raw_text = 'tampered' WHERE conversation_id = $1 AND message_number = 7`,
        [conversation.id],
      );
      const tampered = await t.http
        .get(`/api/v1/conversations/${conversation.id}/verify`)
        .set(worker.auth)
        .expect(200);
      expect(tampered.body.valid).toBe(false);
    });
  });

  describe('a turn the database refuses', () => {
    it('is dead-lettered alone while the rest of its batch is persisted', async () => {
      const conversation = await createConversation(t.http, worker);
      const record = (messageNumber: number, speaker = 'A'): TurnRecord => ({
        conversationId: conversation.id,
        messageNumber,
        speaker,
        rawText: `text ${messageNumber}`,
        cleanedText: null,
        spokenAt: new Date().toISOString(),
        confidence: 0.9,
        cleaningApplied: false,
        cleaningLevel: 'none',
        corrections: [],
        contextDetected: null,
        businessDomain: null,
        conversationFlow: null,
        aiModelUsed: null,
        transcriptionErrorDetected: false,
        processingTimeMs: null,
        slidingWindowSize: null,
        contextTurnsUsed: null,
        ingestedBy: worker.userId,
        receivedAt: new Date().toISOString(),
      });
      // Validation would stop this at the API; write it to the buffer directly, as a
      // turn accepted by an older release with looser rules would be.
      const buffer = t.app.get(TurnBuffer);
      const deadBefore = await buffer.deadLetterCount();
      await buffer.ingest(conversation.id, [record(1), record(2, 'x'.repeat(500)), record(3)]);
      await t.app.get(TurnPersistenceService).drain();
      expect(
        await eventually(
          () => persistedCount(conversation.id),
          (n) => n === 2,
        ),
      ).toBe(2);
      // Other specs of the run share the dead-letter stream, so at least this one more.
      expect(await buffer.deadLetterCount()).toBeGreaterThanOrEqual(deadBefore + 1);
      expect(await buffer.pendingCount(conversation.id)).toBe(0);
      const [row] = await t.db.query<{ turns: string }[]>(
        'SELECT turns_count::text AS turns FROM conversations WHERE id = $1',
        [conversation.id],
      );
      expect(row!.turns).toBe('2');
    });
  });
});
