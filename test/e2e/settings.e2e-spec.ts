import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';

describe('Settings (SPEC section 11)', () => {
  let t: TestApp;
  let admin: Session;
  let worker: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  const put = (session: Session, key: string, body: unknown) =>
    t.http
      .put(`/api/v1/me/settings/${key}`)
      .set(session.auth)
      .send(body as object);

  describe('reading and writing one key', () => {
    it('starts empty, stores a value, reads it back alone and in the map, and deletes it', async () => {
      const fresh = await userSession(t.http, admin, 'case_worker');
      expect((await t.http.get('/api/v1/me/settings').set(fresh.auth).expect(200)).body).toEqual(
        {},
      );
      const stored = await put(fresh, 'ui.theme', { value: { dark: true, accent: 'teal' } });
      expect(stored.status).toBe(200);
      expect(stored.body).toEqual({ key: 'ui.theme', value: { dark: true, accent: 'teal' } });
      await put(fresh, 'ui.theme', { value: 'light' }).expect(200);
      expect(
        (await t.http.get('/api/v1/me/settings/ui.theme').set(fresh.auth).expect(200)).body,
      ).toEqual({ key: 'ui.theme', value: 'light' });
      await put(fresh, 'pageSize', { value: 30 }).expect(200);
      expect((await t.http.get('/api/v1/me/settings').set(fresh.auth).expect(200)).body).toEqual({
        'ui.theme': 'light',
        pageSize: 30,
      });
      await t.http.delete('/api/v1/me/settings/ui.theme').set(fresh.auth).expect(204);
      expectProblem(await t.http.get('/api/v1/me/settings/ui.theme').set(fresh.auth), 404);
      expectProblem(await t.http.delete('/api/v1/me/settings/ui.theme').set(fresh.auth), 404);
    });

    it('accepts any JSON for a free key, null included', async () => {
      for (const value of [null, 0, 'text', [1, 'two', { three: 3 }], { nested: { a: [] } }]) {
        const response = await put(worker, 'free-key_1', { value });
        expect(response.status).toBe(200);
        expect(response.body.value).toEqual(value);
      }
    });

    it('refuses a key outside ^[a-z][a-z0-9_.-]{0,63}$ with 400', async () => {
      for (const key of ['Upper', '1digit', 'a'.repeat(65), 'sp%20ace']) {
        const response = await put(worker, key, { value: 1 });
        expect(expectProblem(response, 400).errors).toEqual([
          expect.objectContaining({ field: 'key' }),
        ]);
      }
      expectProblem(await t.http.get('/api/v1/me/settings/Bad').set(worker.auth), 400);
    });

    it('answers 413 for a value over 16 KiB and accepts one just under', async () => {
      await put(worker, 'big', { value: 'x'.repeat(16 * 1024 - 2) }).expect(200);
      expectProblem(await put(worker, 'big', { value: 'x'.repeat(16 * 1024) }), 413);
    });

    it('refuses a body without value or with unknown fields', async () => {
      expectProblem(await put(worker, 'k', {}), 400);
      expectProblem(await put(worker, 'k', { value: 1, extra: true }), 400);
    });

    it('caps one user at 100 keys with 422, while changing an existing key still works', async () => {
      const busy = await userSession(t.http, admin, 'case_worker');
      for (let i = 0; i < 100; i++) await put(busy, `k${i}`, { value: i }).expect(200);
      expectProblem(await put(busy, 'one-more', { value: 1 }), 422);
      await put(busy, 'k0', { value: 'changed' }).expect(200);
    });
  });

  describe('known keys are validated', () => {
    it('locale: a BCP 47 tag, stored in canonical form', async () => {
      expect((await put(worker, 'locale', { value: 'en-gb' }).expect(200)).body.value).toBe(
        'en-GB',
      );
      await put(worker, 'locale', { value: 'de' }).expect(200);
      for (const value of ['not a locale', '', 42, 'en_US_', ['en']]) {
        const response = await put(worker, 'locale', { value });
        expect(expectProblem(response, 400).errors).toEqual([
          expect.objectContaining({ field: 'value' }),
        ]);
      }
    });

    it('timezone: an IANA name', async () => {
      await put(worker, 'timezone', { value: 'Europe/Berlin' }).expect(200);
      await put(worker, 'timezone', { value: 'UTC' }).expect(200);
      await put(worker, 'timezone', { value: 'America/Argentina/Buenos_Aires' }).expect(200);
      for (const value of ['Mars/Olympus_Mons', '+01:00', 'Europe/', 3]) {
        expectProblem(await put(worker, 'timezone', { value }), 400);
      }
    });

    it('pageSize: an integer from 1 to 100', async () => {
      await put(worker, 'pageSize', { value: 1 }).expect(200);
      await put(worker, 'pageSize', { value: 100 }).expect(200);
      for (const value of [0, 101, 2.5, '20', null]) {
        expectProblem(await put(worker, 'pageSize', { value }), 400);
      }
      await t.http.delete('/api/v1/me/settings/pageSize').set(worker.auth).expect(204);
    });

    it('notifications.muted: notification types, each kept once', async () => {
      const response = await put(worker, 'notifications.muted', {
        value: ['job.failed', 'transcription.created', 'job.failed'],
      }).expect(200);
      expect(response.body.value).toEqual(['transcription.created', 'job.failed']);
      await put(worker, 'notifications.muted', { value: [] }).expect(200);
      for (const value of [['nope'], 'job.failed', [1], ['audio.uploaded']]) {
        expectProblem(await put(worker, 'notifications.muted', { value }), 400);
      }
    });
  });

  describe('pageSize is the default limit of every list', () => {
    it('applies to page lists and cursor lists until a limit is sent or the setting removed', async () => {
      const user = await userSession(t.http, admin, 'case_worker');
      const caseIds: string[] = [];
      for (let i = 0; i < 4; i++) {
        const created = await t.http
          .post('/api/v1/cases')
          .set(user.auth)
          .send({ title: `Paged ${i}` })
          .expect(201);
        caseIds.push((created.body as { id: string }).id);
      }
      const cases = () => t.http.get('/api/v1/cases').set(user.auth).expect(200);
      expect((await cases()).body.meta.limit).toBe(20);

      await put(user, 'pageSize', { value: 3 }).expect(200);
      const paged = await cases();
      expect(paged.body.meta.limit).toBe(3);
      expect(paged.body.data).toHaveLength(3);
      const explicit = await t.http.get('/api/v1/cases?limit=2').set(user.auth).expect(200);
      expect(explicit.body.meta.limit).toBe(2);
      expect(explicit.body.data).toHaveLength(2);

      // A cursor list: the case's activity (at least the creation entry per case).
      await t.http
        .post(`/api/v1/cases/${caseIds[0]}/notes`)
        .set(user.auth)
        .send({ body: 'one' })
        .expect(201);
      await t.http
        .post(`/api/v1/cases/${caseIds[0]}/notes`)
        .set(user.auth)
        .send({ body: 'two' })
        .expect(201);
      await put(user, 'pageSize', { value: 1 }).expect(200);
      const activity = await t.http
        .get(`/api/v1/cases/${caseIds[0]}/activity`)
        .set(user.auth)
        .expect(200);
      expect(activity.body.data).toHaveLength(1);
      expect(activity.body.meta.nextCursor).not.toBeNull();

      // Another user's setting does not leak into this user's lists.
      expect((await t.http.get('/api/v1/cases').set(worker.auth).expect(200)).body.meta.limit).toBe(
        20,
      );

      await t.http.delete('/api/v1/me/settings/pageSize').set(user.auth).expect(204);
      expect((await cases()).body.meta.limit).toBe(20);
    });

    it('does not add a limit to routes that are not lists', async () => {
      const user = await userSession(t.http, admin, 'case_worker');
      await put(user, 'pageSize', { value: 5 }).expect(200);
      await t.http.get('/api/v1/auth/me').set(user.auth).expect(200);
      await t.http.get('/api/v1/me/settings').set(user.auth).expect(200);
    });
  });

  describe("an administrator reads a user's settings", () => {
    it('GET /users/:id/settings needs users:manage; 404 for an unknown user', async () => {
      await put(worker, 'locale', { value: 'fr-FR' }).expect(200);
      const read = await t.http
        .get(`/api/v1/users/${worker.userId}/settings`)
        .set(admin.auth)
        .expect(200);
      expect(read.body).toMatchObject({ locale: 'fr-FR' });
      expectProblem(
        await t.http
          .get(`/api/v1/users/00000000-0000-4000-8000-000000000000/settings`)
          .set(admin.auth),
        404,
      );
    });
  });

  describe("no user reads or changes another user's settings (S13)", () => {
    it('every settings route acts on the caller only; the admin route is 403 without users:manage', async () => {
      const alice = await userSession(t.http, admin, 'case_worker');
      const bob = await userSession(t.http, admin, 'supervisor');
      await put(alice, 'secret-note', { value: 'alice only' }).expect(200);

      expect((await t.http.get('/api/v1/me/settings').set(bob.auth).expect(200)).body).toEqual({});
      expectProblem(await t.http.get('/api/v1/me/settings/secret-note').set(bob.auth), 404);
      expectProblem(await t.http.delete('/api/v1/me/settings/secret-note').set(bob.auth), 404);
      await put(bob, 'secret-note', { value: 'bob' }).expect(200);
      for (const session of [alice, bob]) {
        expectProblem(
          await t.http
            .get(`/api/v1/users/${session === alice ? bob.userId : alice.userId}/settings`)
            .set(session.auth),
          403,
        );
      }
      expect(
        (await t.http.get('/api/v1/me/settings/secret-note').set(alice.auth).expect(200)).body
          .value,
      ).toBe('alice only');
    });
  });
});
