import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestClock } from '../../src/core/clock/clock';
import {
  attemptLogin,
  createApiKey,
  expectProblem,
  loginAsAdmin,
  randomIp,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';

const KEY_FIELDS = ['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt'];

describe('API keys for machine clients (SPEC section 2)', () => {
  let t: TestApp;
  let admin: Session;
  const clock = new TestClock();

  beforeAll(async () => {
    t = await startApp({}, { clock });
    admin = await loginAsAdmin(t.http);
  });
  // A test that moves time puts it back, so the sessions of the others stay valid.
  afterEach(() => clock.reset());
  afterAll(() => t.close());

  const me = (auth: Record<string, string>) => t.http.get('/api/v1/auth/me').set(auth);

  describe('POST /api-keys', () => {
    it('shows the key once: in the 201 answer, never in the list or a single read', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const response = await t.http
        .post('/api/v1/api-keys')
        .set(owner.auth)
        .send({ name: 'stt-engine-1' })
        .expect(201);
      const key = response.body.key as string;
      expect(key).toMatch(/^vbk_[A-Za-z0-9_-]{43}$/);
      expect(response.body).toMatchObject({
        id: expect.any(String),
        name: 'stt-engine-1',
        prefix: key.slice(0, 12),
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(response.headers.location).toBe(`/api/v1/api-keys/${response.body.id}`);
      expect(response.headers['cache-control']).toBe('no-store');

      const list = await t.http.get('/api/v1/api-keys').set(owner.auth).expect(200);
      expect(list.body.data).toHaveLength(1);
      expect(Object.keys(list.body.data[0]).sort()).toEqual(KEY_FIELDS);
      expect(list.text).not.toContain(key);

      const one = await t.http.get(response.headers.location!).set(owner.auth).expect(200);
      expect(Object.keys(one.body).sort()).toEqual(KEY_FIELDS);
      expect(one.text).not.toContain(key);
    });

    it('stores only a hash of the key', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const created = await createApiKey(t.http, owner);
      const rows = await t.db.query<Record<string, unknown>[]>(
        'SELECT * FROM api_keys WHERE id = $1',
        [created.id],
      );
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows[0])).not.toContain(created.key);
      expect(rows[0]!.key_hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    });

    it('refuses an expiry in the past, a malformed expiry and unknown fields with 400', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const past = expectProblem(
        await t.http
          .post('/api/v1/api-keys')
          .set(owner.auth)
          .send({ name: 'late', expiresAt: new Date(Date.now() - 60_000).toISOString() }),
        400,
      );
      expect(past.errors).toEqual([{ field: 'expiresAt', message: expect.any(String) }]);
      expectProblem(
        await t.http
          .post('/api/v1/api-keys')
          .set(owner.auth)
          .send({ name: 'vague', expiresAt: 'next tuesday' }),
        400,
      );
      // Nobody mints a key for someone else, or chooses its secret.
      for (const extra of [{ userId: admin.userId }, { key: `vbk_${'a'.repeat(43)}` }]) {
        const problem = expectProblem(
          await t.http
            .post('/api/v1/api-keys')
            .set(owner.auth)
            .send({ name: 'sneaky', ...extra }),
          400,
        );
        expect(problem.errors![0]!.field).toBe(Object.keys(extra)[0]);
      }
      const list = await t.http.get('/api/v1/api-keys').set(owner.auth).expect(200);
      expect(list.body.data).toEqual([]);
    });

    it('needs authentication', async () => {
      expectProblem(await t.http.post('/api/v1/api-keys').send({ name: 'anon' }), 401);
    });
  });

  describe('X-API-Key authentication', () => {
    it("acts as the owner, with the owner's role", async () => {
      const processor = await userSession(t.http, admin, 'processor');
      const auditor = await userSession(t.http, admin, 'auditor');
      const processorKey = await createApiKey(t.http, processor);
      const auditorKey = await createApiKey(t.http, auditor);

      const whoAmI = await me(processorKey.header).expect(200);
      expect(whoAmI.body).toMatchObject({ id: processor.userId, role: 'processor' });
      expect(whoAmI.body.permissions).toContain('transcriptions:write');

      expectProblem(await t.http.get('/api/v1/audit').set(processorKey.header), 403);
      await t.http.get('/api/v1/audit').set(auditorKey.header).expect(200);
      expectProblem(await t.http.get('/api/v1/users').set(auditorKey.header), 403);
    });

    it("follows the owner's current role", async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);
      expectProblem(await t.http.get('/api/v1/audit').set(key.header), 403);
      await t.http
        .patch(`/api/v1/users/${owner.userId}`)
        .set(admin.auth)
        .send({ role: 'auditor' })
        .expect(200);
      await t.http.get('/api/v1/audit').set(key.header).expect(200);
    });

    it('records when the key was last used', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);
      await me(key.header).expect(200);
      let lastUsedAt: string | null = null;
      for (let i = 0; i < 20 && !lastUsedAt; i++) {
        const read = await t.http.get(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(200);
        lastUsedAt = read.body.lastUsedAt as string | null;
        if (!lastUsedAt) await sleep(100);
      }
      expect(lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    });

    it('refuses unknown and malformed keys with 401 problem+json', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);
      for (const value of [
        `vbk_${'A'.repeat(43)}`,
        key.key.slice(0, -1),
        key.key.slice(4),
        `${key.key}x`,
        `${key.key}${'x'.repeat(200)}`,
        '',
      ]) {
        const problem = expectProblem(await me({ 'X-API-Key': value }), 401);
        expect(problem.type).toMatch(/unauthenticated$/);
      }
      // A key is not a bearer token.
      expectProblem(await me({ Authorization: `Bearer ${key.key}` }), 401);
    });

    it('stops working once revoked (401), and stays listed as revoked', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);
      const spare = await createApiKey(t.http, owner);
      await me(key.header).expect(200);

      await t.http.delete(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(204);
      expectProblem(await me(key.header), 401);
      await me(spare.header).expect(200);

      const read = await t.http.get(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(200);
      expect(read.body.revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      // Revoking twice is harmless.
      await t.http.delete(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(204);
    });

    it('stops working once expired (401), by the application clock', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const expiresAt = clock.fromNow(60 * 60_000);
      const key = await createApiKey(t.http, owner, { expiresAt: expiresAt.toISOString() });
      const read = await t.http.get(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(200);
      expect(read.body.expiresAt).toBe(expiresAt.toISOString());
      await me(key.header).expect(200);

      clock.advance(59 * 60_000);
      await me(key.header).expect(200);
      clock.advance(2 * 60_000);
      const problem = expectProblem(await me(key.header), 401);
      expect(problem.type).toMatch(/unauthenticated$/);
      // The decision is the clock's, not a state written to the key: back before the
      // expiry, the key works again and was never marked revoked.
      clock.reset();
      const listed = await t.http.get(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(200);
      expect(listed.body.revokedAt).toBeNull();
      await me(key.header).expect(200);
    });
  });

  describe('an API key cannot mint keys or change credentials (F4)', () => {
    it('F4: refuses POST /api-keys with an API key (403), so no key can outlive the one that made it', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const k1 = await createApiKey(t.http, owner);
      const problem = expectProblem(
        await t.http.post('/api/v1/api-keys').set(k1.header).send({ name: 'k2' }),
        403,
      );
      expect(problem.detail).toMatch(/API keys cannot/);
      const list = await t.http.get('/api/v1/api-keys').set(owner.auth).expect(200);
      expect((list.body.data as { id: string }[]).map((k) => k.id)).toEqual([k1.id]);
    });

    it('F4: refuses a password change, an e-mail change and a password reset made with an API key', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      const key = await createApiKey(t.http, owner);
      const newPassword = `new-${owner.user.password}`;
      expectProblem(
        await t.http
          .post('/api/v1/auth/password')
          .set(key.header)
          .set('X-Forwarded-For', randomIp())
          .send({ currentPassword: owner.user.password, newPassword }),
        403,
      );
      expectProblem(
        await t.http
          .patch('/api/v1/auth/me')
          .set(key.header)
          .send({ email: `new-${owner.user.email}` }),
        403,
      );
      // An administrator's key cannot reset anyone's password (its own owner's included).
      const adminKey = await createApiKey(t.http, admin);
      for (const target of [owner.userId, admin.userId]) {
        expectProblem(
          await t.http
            .patch(`/api/v1/users/${target}`)
            .set(adminKey.header)
            .send({ password: newPassword }),
          403,
        );
      }
      // Nothing changed: the old password still signs in, the key still works.
      expect((await attemptLogin(t.http, owner.user.username, owner.user.password)).status).toBe(
        200,
      );
      await me(key.header).expect(200);
    });

    it('F4: a password change revokes every API key of the user, and so does a reset', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const keys = [await createApiKey(t.http, owner), await createApiKey(t.http, owner)];
      const bystander = await userSession(t.http, admin, 'processor');
      const bystanderKey = await createApiKey(t.http, bystander);
      const newPassword = `new-${owner.user.password}`;
      const changed = await t.http
        .post('/api/v1/auth/password')
        .set(owner.auth)
        .set('X-Forwarded-For', randomIp())
        .send({ currentPassword: owner.user.password, newPassword })
        .expect(200);
      for (const key of keys) expectProblem(await me(key.header), 401);
      const fresh = { Authorization: `Bearer ${changed.body.accessToken as string}` };
      const list = await t.http.get('/api/v1/api-keys').set(fresh).expect(200);
      for (const key of list.body.data as { revokedAt: string | null }[]) {
        expect(key.revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      }
      await me(bystanderKey.header).expect(200);

      // An administrator's reset ends the keys too.
      const later = await createApiKey(t.http, { ...owner, auth: fresh });
      await me(later.header).expect(200);
      await t.http
        .patch(`/api/v1/users/${owner.userId}`)
        .set(admin.auth)
        .send({ password: `reset-${owner.user.password}` })
        .expect(200);
      expectProblem(await me(later.header), 401);
    });

    it('F4: the audit entry of a key creation names the credential that created it', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);
      const [entry] = await t.db.query<{ details: Record<string, unknown>; actor_id: string }[]>(
        `SELECT details, actor_id FROM audit_logs WHERE action = 'api_key.create' AND resource_id = $1`,
        [key.id],
      );
      const sid = (
        JSON.parse(Buffer.from(owner.accessToken.split('.')[1]!, 'base64url').toString()) as {
          sid: string;
        }
      ).sid;
      expect(entry!.actor_id).toBe(owner.userId);
      expect(entry!.details).toEqual({
        name: expect.any(String),
        createdWith: { type: 'access-token', sessionId: sid },
      });
    });
  });

  describe("nobody sees or deletes another user's key", () => {
    it("answers 404 for another user's key, to its owner's neighbours and to admins", async () => {
      const owner = await userSession(t.http, admin, 'processor');
      const other = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, owner);

      for (const caller of [other.auth, admin.auth]) {
        expectProblem(await t.http.get(`/api/v1/api-keys/${key.id}`).set(caller), 404);
        expectProblem(await t.http.delete(`/api/v1/api-keys/${key.id}`).set(caller), 404);
        const list = await t.http.get('/api/v1/api-keys').set(caller).expect(200);
        expect((list.body.data as { id: string }[]).map((k) => k.id)).not.toContain(key.id);
      }
      // Still alive and unrevoked.
      await me(key.header).expect(200);
      const read = await t.http.get(`/api/v1/api-keys/${key.id}`).set(owner.auth).expect(200);
      expect(read.body.revokedAt).toBeNull();
    });

    it('answers an unknown id with 404 and a malformed one with 400', async () => {
      const owner = await userSession(t.http, admin, 'processor');
      expectProblem(
        await t.http.get('/api/v1/api-keys/00000000-0000-4000-8000-000000000000').set(owner.auth),
        404,
      );
      expectProblem(await t.http.get('/api/v1/api-keys/nope').set(owner.auth), 400);
    });
  });
});
