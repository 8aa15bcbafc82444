import { UsageService } from '../../src/audit/usage.service';
import { expectProblem, loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { createCase, startAudioApp, uploadAudio, wavBuffer } from '../support/audio';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';

interface Usage {
  userId: string;
  month: string;
  filesUploaded: number;
  bytesUploaded: number;
  audioSeconds: number;
  transcriptions: number;
  jobsSucceeded: number;
  jobsFailed: number;
  turnsIngested: number;
}

/**
 * Honest usage (SPEC sections 7 and 11): engine results and failures count as the
 * uploader's jobs succeeded / failed; `GET /me/usage`; `GET /stats/usage` for every user
 * as JSON or CSV; "my recent jobs" (`GET /audio?uploadedBy=&sort=-createdAt`); the audit
 * trail newest first (`GET /audit?sort=-occurredAt`) with cursors in both orders.
 */
describe('Usage, recent jobs and newest-first audit (SPEC sections 7 and 11)', () => {
  let t: TestApp;
  let admin: Session;
  let worker: Session;
  let engine: Session;
  const thisMonth = () => new Date().toISOString().slice(0, 7);

  beforeAll(async () => {
    t = await startAudioApp('usage');
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
    engine = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  const myUsage = async (session: Session, month?: string): Promise<Usage> =>
    (
      await t.http
        .get('/api/v1/me/usage')
        .query(month ? { month } : {})
        .set(session.auth)
        .expect(200)
    ).body as Usage;

  describe('jobs succeeded and failed', () => {
    it('counts an engine’s result as a succeeded job and its failures as failed jobs of the uploader', async () => {
      const before = await myUsage(worker);
      const engineBefore = await myUsage(engine);
      const done = await caseWithAudio(t, worker.auth);
      const failed = await caseWithAudio(t, worker.auth);
      const failedAsResult = await caseWithAudio(t, worker.auth);

      await t.http.post(`/api/v1/audio/${done.audioId}/claim`).set(engine.auth).expect(200);
      await postTranscription(t.http, engine.auth, done.audioId, {
        segments: simpleSegments('Done.'),
      }).expect(201);
      await t.http.post(`/api/v1/audio/${failed.audioId}/claim`).set(engine.auth).expect(200);
      await t.http
        .post(`/api/v1/audio/${failed.audioId}/fail`)
        .set(engine.auth)
        .send({ error: 'decoder crashed' })
        .expect(200);
      await t.http
        .post(`/api/v1/audio/${failedAsResult.audioId}/transcriptions`)
        .set(engine.auth)
        .send({ error: 'unsupported sample rate' })
        .expect(200);
      // A refused failure (wrong state) counts nothing.
      await t.http
        .post(`/api/v1/audio/${done.audioId}/fail`)
        .set(engine.auth)
        .send({ error: 'late' })
        .expect(409);

      const after = await myUsage(worker);
      expect(after.filesUploaded - before.filesUploaded).toBe(3);
      expect(after.jobsSucceeded - before.jobsSucceeded).toBe(1);
      expect(after.jobsFailed - before.jobsFailed).toBe(2);
      // The engine is credited with the transcription it wrote, not with the job.
      const engineAfter = await myUsage(engine);
      expect(engineAfter.transcriptions - engineBefore.transcriptions).toBe(1);
      expect(engineAfter.jobsSucceeded).toBe(engineBefore.jobsSucceeded);
      expect(engineAfter.jobsFailed).toBe(engineBefore.jobsFailed);
    });
  });

  describe('GET /me/usage', () => {
    it('shows the caller’s own counters, this month by default', async () => {
      const fresh = await userSession(t.http, admin, 'case_worker');
      const caseId = await createCase(t.http, fresh.auth);
      const wav = wavBuffer(2, 8000);
      expect((await uploadAudio(t, fresh.auth, caseId, { content: wav })).status).toBe(201);
      const usage = await myUsage(fresh);
      expect(usage).toEqual({
        userId: fresh.userId,
        month: thisMonth(),
        filesUploaded: 1,
        bytesUploaded: wav.length,
        audioSeconds: 2,
        transcriptions: 0,
        jobsSucceeded: 0,
        jobsFailed: 0,
        turnsIngested: 0,
      });
      expect(await myUsage(fresh, thisMonth())).toEqual(usage);
      expect(await myUsage(fresh, '2001-02')).toMatchObject({
        month: '2001-02',
        filesUploaded: 0,
        bytesUploaded: 0,
      });
    });

    it('refuses a malformed month with 400 and anonymous callers with 401', async () => {
      for (const month of ['2026-13', '2026-1', 'now']) {
        expectProblem(await t.http.get('/api/v1/me/usage').query({ month }).set(worker.auth), 400);
      }
      expectProblem(
        await t.http.get('/api/v1/me/usage').query({ userId: admin.userId }).set(worker.auth),
        400,
      );
      expectProblem(await t.http.get('/api/v1/me/usage'), 401);
    });
  });

  describe('GET /stats/usage for every user', () => {
    // A month no other spec writes to, so the list is exactly these rows.
    const MONTH = '2033-07';
    const at = new Date(Date.UTC(2033, 6, 15, 12));
    let first: Session & { user: { username: string } };
    let second: Session & { user: { username: string } };

    beforeAll(async () => {
      first = await userSession(t.http, admin, 'case_worker');
      second = await userSession(t.http, admin, 'case_worker');
      const usage = t.app.get(UsageService);
      await usage.increment(
        first.userId,
        { filesUploaded: 2, bytesUploaded: 5_000_000_000, audioSeconds: 12.5 },
        undefined,
        at,
      );
      await usage.increment(first.userId, { jobsSucceeded: 3, jobsFailed: 1 }, undefined, at);
      await usage.increment(second.userId, { transcriptions: 4, turnsIngested: 7 }, undefined, at);
    });

    const expected = () =>
      [
        {
          userId: first.userId,
          username: first.user.username,
          month: MONTH,
          filesUploaded: 2,
          bytesUploaded: 5_000_000_000,
          audioSeconds: 12.5,
          transcriptions: 0,
          jobsSucceeded: 3,
          jobsFailed: 1,
          turnsIngested: 0,
        },
        {
          userId: second.userId,
          username: second.user.username,
          month: MONTH,
          filesUploaded: 0,
          bytesUploaded: 0,
          audioSeconds: 0,
          transcriptions: 4,
          jobsSucceeded: 0,
          jobsFailed: 0,
          turnsIngested: 7,
        },
      ].sort((a, b) => a.username.localeCompare(b.username));

    it('lists every user’s row of the month as JSON, by username', async () => {
      const response = await t.http
        .get('/api/v1/stats/usage')
        .query({ month: MONTH })
        .set(admin.auth)
        .expect(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({ data: expected(), meta: { month: MONTH, total: 2 } });
      const empty = await t.http
        .get('/api/v1/stats/usage')
        .query({ month: '1998-01' })
        .set(admin.auth)
        .expect(200);
      expect(empty.body).toEqual({ data: [], meta: { month: '1998-01', total: 0 } });
    });

    it('gives the same rows as CSV with format=csv: header row, CRLF, one line per user', async () => {
      const response = await t.http
        .get('/api/v1/stats/usage')
        .query({ month: MONTH, format: 'csv' })
        .set(admin.auth)
        .buffer(true)
        .parse((res, done) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => done(null, text));
        })
        .expect(200);
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
      expect(response.headers['content-disposition']).toBe(
        `attachment; filename="usage-${MONTH}.csv"`,
      );
      const text = response.body as string;
      expect(text.endsWith('\r\n')).toBe(true);
      const lines = text.slice(0, -2).split('\r\n');
      const columns = [
        'userId',
        'username',
        'month',
        'filesUploaded',
        'bytesUploaded',
        'audioSeconds',
        'transcriptions',
        'jobsSucceeded',
        'jobsFailed',
        'turnsIngested',
      ] as const;
      expect(lines[0]).toBe(columns.join(','));
      expect(lines.slice(1)).toEqual(
        expected().map((row) => columns.map((column) => String(row[column])).join(',')),
      );

      // One user's month as CSV too.
      const one = await t.http
        .get('/api/v1/stats/usage')
        .query({ month: MONTH, userId: second.userId, format: 'csv' })
        .set(admin.auth)
        .expect(200);
      expect(one.headers['content-type']).toMatch(/^text\/csv/);
      expect(one.text.split('\r\n')[1]).toBe(
        `${second.userId},${second.user.username},${MONTH},0,0,0,4,0,0,7`,
      );
      // And as JSON, unchanged from before.
      const json = await t.http
        .get('/api/v1/stats/usage')
        .query({ month: MONTH, userId: second.userId })
        .set(admin.auth)
        .expect(200);
      const row: Partial<ReturnType<typeof expected>[number]> = {
        ...expected().find((r) => r.userId === second.userId)!,
      };
      delete row.username;
      expect(json.body).toEqual(row);
    });

    it('is for stats:read only, as JSON and as CSV', async () => {
      for (const format of ['json', 'csv']) {
        expectProblem(
          await t.http.get('/api/v1/stats/usage').query({ month: MONTH, format }).set(worker.auth),
          403,
        );
      }
      const auditor = await userSession(t.http, admin, 'auditor');
      await t.http
        .get('/api/v1/stats/usage')
        .query({ month: MONTH, format: 'csv' })
        .set(auditor.auth)
        .expect(200);
    });
  });

  describe('GET /audio?uploadedBy=&sort=-createdAt (my recent jobs)', () => {
    it('lists one user’s uploads, newest first on request, paginated', async () => {
      const mine = await userSession(t.http, admin, 'case_worker');
      const other = await userSession(t.http, admin, 'case_worker');
      const caseId = await createCase(t.http, mine.auth);
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const uploaded = await uploadAudio(t, mine.auth, caseId, { content: wavBuffer(i, 8000) });
        expect(uploaded.status).toBe(201);
        ids.push(uploaded.body.id as string);
      }
      const otherCase = await createCase(t.http, other.auth);
      expect(
        (await uploadAudio(t, other.auth, otherCase, { content: wavBuffer(5, 8000) })).status,
      ).toBe(201);

      const list = async (query: Record<string, unknown>) =>
        (await t.http.get('/api/v1/audio').query(query).set(admin.auth).expect(200)).body as {
          data: { id: string; uploadedBy: string }[];
          meta: { total: number };
        };
      const oldestFirst = await list({ uploadedBy: mine.userId });
      expect(oldestFirst.data.map((a) => a.id)).toEqual(ids);
      expect(oldestFirst.meta.total).toBe(3);
      const newestFirst = await list({ uploadedBy: mine.userId, sort: '-createdAt' });
      expect(newestFirst.data.map((a) => a.id)).toEqual([...ids].reverse());
      const page2 = await list({ uploadedBy: mine.userId, sort: '-createdAt', limit: 2, page: 2 });
      expect(page2.data.map((a) => a.id)).toEqual([ids[0]]);
      expect(await list({ uploadedBy: mine.userId, sort: 'createdAt' })).toEqual(oldestFirst);

      // Visibility still applies: the uploader sees their own; combined with other filters.
      const own = (
        await t.http
          .get('/api/v1/audio')
          .query({ uploadedBy: mine.userId, sort: '-createdAt', status: 'queued' })
          .set(mine.auth)
          .expect(200)
      ).body as { data: { id: string }[] };
      expect(own.data.map((a) => a.id)).toEqual([...ids].reverse());
    });

    it('refuses an unknown sort or a malformed uploadedBy with 400', async () => {
      for (const query of [{ sort: 'size' }, { sort: '-updatedAt' }, { uploadedBy: 'me' }]) {
        expectProblem(await t.http.get('/api/v1/audio').query(query).set(admin.auth), 400);
      }
    });
  });

  describe('GET /audit?sort=-occurredAt', () => {
    it('returns entries newest first, and cursors page without gaps or repeats in both orders', async () => {
      const actor = await userSession(t.http, admin, 'case_worker');
      for (let i = 0; i < 7; i++) await createCase(t.http, actor.auth, `Audit order ${i}`);

      type Entry = { id: string; occurredAt: string };
      const all = async (sort?: string): Promise<Entry[]> => {
        const entries: Entry[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const response = await t.http
            .get('/api/v1/audit')
            .query({
              actorId: actor.userId,
              limit: 2,
              ...(sort ? { sort } : {}),
              ...(after ? { after } : {}),
            })
            .set(admin.auth)
            .expect(200);
          const body = response.body as { data: Entry[]; meta: { nextCursor: string | null } };
          entries.push(...body.data);
          if (!body.meta.nextCursor) return entries;
          after = body.meta.nextCursor;
        }
        throw new Error('too many pages');
      };
      const chain = await all();
      const newest = await all('-occurredAt');
      const oldest = await all('occurredAt');
      // Login and seven case creations, at least.
      expect(chain.length).toBeGreaterThanOrEqual(8);
      expect(new Set(newest.map((e) => e.id)).size).toBe(chain.length);
      expect(newest.map((e) => e.id).sort()).toEqual(chain.map((e) => e.id).sort());
      expect(oldest.map((e) => e.id)).toEqual([...newest].reverse().map((e) => e.id));
      const stamps = newest.map((e) => Date.parse(e.occurredAt));
      expect(stamps).toEqual([...stamps].sort((a, b) => b - a));

      // The first page newest first is the newest entry.
      const first = await t.http
        .get('/api/v1/audit')
        .query({ actorId: actor.userId, sort: '-occurredAt', limit: 1 })
        .set(admin.auth)
        .expect(200);
      expect(first.body.data[0].id).toBe(newest[0]!.id);
    });

    it('refuses an unknown sort with 400', async () => {
      for (const sort of ['id', '-id', 'occurred_at', '']) {
        expectProblem(await t.http.get('/api/v1/audit').query({ sort }).set(admin.auth), 400);
      }
    });
  });
});
