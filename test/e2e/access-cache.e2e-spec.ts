import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CACHE_CHANNEL, CacheInvalidation } from '../../src/core/cache/cache-invalidation';
import {
  createRole,
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';
import { createConversation, turn } from '../support/turns';

/**
 * The in-process access cache (src/core/cache) never lets a change of who may do what go
 * unseen: principals (JWT auth), case and conversation participations and the ingest
 * status are cached, and dropped when the database announces a change (NOTIFY on
 * `verbatim_cache`), when this process makes the change itself, and wholesale while the
 * LISTEN connection is down.
 *
 * The spec owns its database: it terminates the listener backend of "its" app, which a
 * query by application_name can only single out in a database no other spec's app uses.
 */

/** How long a NOTIFY may take to reach the listener; it is asynchronous by nature. */
const NOTIFY_DEADLINE_MS = 2_000;
/** How long the listener may take to come back after its backend was terminated. */
const RECONNECT_DEADLINE_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Repeats `probe` until it answers `expected` or the deadline passes; returns the last answer. */
async function statusWithin(
  probe: () => Promise<number>,
  expected: number,
  timeoutMs = NOTIFY_DEADLINE_MS,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = await probe();
  while (status !== expected && Date.now() < deadline) {
    await sleep(20);
    status = await probe();
  }
  return status;
}

describe('Access cache coherence (in-process cache kept coherent by Postgres NOTIFY)', () => {
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let t: TestApp | undefined;
  /** A connection of its own, standing in for another replica, a worker or the CLI. */
  let sql: Client | undefined;
  let invalidation: CacheInvalidation;
  let admin: Session;
  let turnNumber = 0;

  const app = (): TestApp => t!;
  const db = (): Client => sql!;

  beforeAll(async () => {
    database = await isolatedDatabase('cache');
    t = await startApp({
      DATABASE_URL: database.url,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX}-cache`,
      ACCESS_CACHE_ENABLED: 'true',
    });
    sql = new Client({ connectionString: database.url, application_name: 'access-cache-e2e' });
    await sql.connect();
    invalidation = t.app.get(CacheInvalidation);
    expect(await invalidation.whenLive()).toBe(true);
    admin = await loginAsAdmin(t.http);
  });
  afterAll(async () => {
    await sql?.end();
    await t?.close();
    await database?.drop();
  });

  // --- probes: each answers the HTTP status of one request -----------------------------

  const getCase = (session: Session, caseId: string) => (): Promise<number> =>
    app()
      .http.get(`/api/v1/cases/${caseId}`)
      .set(session.auth)
      .then((response) => response.status);

  const me = (session: Session) => (): Promise<number> =>
    app()
      .http.get('/api/v1/auth/me')
      .set(session.auth)
      .then((response) => response.status);

  const postTurn = (session: Session, conversationId: string) => (): Promise<number> =>
    app()
      .http.post(`/api/v1/conversations/${conversationId}/turns`)
      .set(session.auth)
      .send(turn(++turnNumber))
      .then((response) => response.status);

  const getTurns = (session: Session, conversationId: string) => (): Promise<number> =>
    app()
      .http.get(`/api/v1/conversations/${conversationId}/turns`)
      .set(session.auth)
      .then((response) => response.status);

  // --- fixtures ---------------------------------------------------------------------------

  /** A case created by a lead, with a second case worker as a plain member. */
  async function caseWithMember(): Promise<{ caseId: string; lead: Session; member: Session }> {
    const lead = await userSession(app().http, admin, 'case_worker');
    const member = await userSession(app().http, admin, 'case_worker');
    const created = await app()
      .http.post('/api/v1/cases')
      .set(lead.auth)
      .send({ title: 'Cache coherence case' })
      .expect(201);
    const caseId = (created.body as { id: string }).id;
    await app()
      .http.post(`/api/v1/cases/${caseId}/participants`)
      .set(lead.auth)
      .send({ userId: member.userId, role: 'member' })
      .expect(201);
    return { caseId, lead, member };
  }

  /** A conversation (no case) created by one case worker and joined by another. */
  async function conversationWithMember(): Promise<{
    conversationId: string;
    owner: Session;
    member: Session;
  }> {
    const owner = await userSession(app().http, admin, 'case_worker');
    const member = await userSession(app().http, admin, 'case_worker');
    const password = `join-${randomUUID()}`;
    const conversation = await createConversation(app().http, owner, { joinPassword: password });
    await app()
      .http.post('/api/v1/conversations/join')
      .set(member.auth)
      .send({ name: conversation.name, password })
      .expect(200);
    return { conversationId: conversation.id, owner, member };
  }

  /**
   * Waits until every NOTIFY committed so far has reached this app: a marker notified now
   * arrives after all of them (one connection delivers in commit order). A load after this
   * cannot straddle a stale invalidation, so it is stored: the next request is a cache hit.
   */
  async function feedDrained(): Promise<void> {
    expect(invalidation.live).toBe(true);
    const marker = `e2e-marker:${randomUUID()}`;
    const heard = jest.spyOn(invalidation, 'invalidate');
    try {
      await db().query('SELECT pg_notify($1, $2)', [CACHE_CHANNEL, marker]);
      const deadline = Date.now() + NOTIFY_DEADLINE_MS;
      while (!heard.mock.calls.some((tags) => tags.includes(marker))) {
        if (Date.now() > deadline)
          throw new Error('the invalidation feed did not deliver a NOTIFY');
        await sleep(5);
      }
    } finally {
      heard.mockRestore();
    }
  }

  /** Asserts `probe` answers `status` now, after the feed is quiet, so the answer is cached. */
  async function cached(probe: () => Promise<number>, status: number): Promise<void> {
    await feedDrained();
    expect(await probe()).toBe(status);
    expect(await probe()).toBe(status);
  }

  /** Runs `statement` on the side connection with the cache triggers off: no NOTIFY at all. */
  async function silently(statement: string, params: unknown[]): Promise<void> {
    await db().query('BEGIN');
    try {
      await db().query('SET LOCAL session_replication_role = replica');
      await db().query(statement, params);
      await db().query('COMMIT');
    } catch (error) {
      await db().query('ROLLBACK');
      throw error;
    }
  }

  async function listenerPids(): Promise<number[]> {
    const { rows } = await db().query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE application_name = 'verbatim-cache' AND datname = current_database()`,
    );
    return rows.map((row) => row.pid);
  }

  // ---------------------------------------------------------------------------------------

  describe('the cache really answers from memory (what makes the tests below meaningful)', () => {
    it('keeps serving a participation changed without a NOTIFY, and drops it on one', async () => {
      const { caseId, lead, member } = await caseWithMember();
      await cached(getCase(member, caseId), 200);

      // A change nobody announces (triggers off) is invisible to the warm cache...
      await silently('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        caseId,
        member.userId,
      ]);
      expect(await getCase(member, caseId)()).toBe(200);
      // ...until the tag is announced: then the very entry is dropped and reloaded.
      await db().query('SELECT pg_notify($1, $2)', [CACHE_CHANNEL, `case:${caseId}`]);
      expect(await statusWithin(getCase(member, caseId), 404)).toBe(404);
      expect(await getCase(lead, caseId)()).toBe(200);
    });
  });

  describe('changes made outside this process (SQL on another connection) reach the cache', () => {
    it('a case participant removed: GET /cases/:id turns from 200 to 404', async () => {
      const { caseId, lead, member } = await caseWithMember();
      await cached(getCase(member, caseId), 200);
      await cached(getCase(lead, caseId), 200);

      await db().query('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        caseId,
        member.userId,
      ]);

      expect(await statusWithin(getCase(member, caseId), 404)).toBe(404);
      // Only that participant lost the case.
      expect(await getCase(lead, caseId)()).toBe(200);
    });

    it('a user deactivated: their access token turns from 200 to 401', async () => {
      const user = await userSession(app().http, admin, 'case_worker');
      const bystander = await userSession(app().http, admin, 'case_worker');
      await cached(me(user), 200);
      await cached(me(bystander), 200);

      await db().query('UPDATE users SET is_active = false WHERE id = $1', [user.userId]);

      expect(await statusWithin(me(user), 401)).toBe(401);
      expectProblem(await app().http.get('/api/v1/auth/me').set(user.auth), 401);
      expect(await me(bystander)()).toBe(200);
    });

    it('token_version bumped (what a password change does): the old token turns to 401', async () => {
      const user = await userSession(app().http, admin, 'case_worker');
      await cached(me(user), 200);

      await db().query('UPDATE users SET token_version = token_version + 1 WHERE id = $1', [
        user.userId,
      ]);

      expect(await statusWithin(me(user), 401)).toBe(401);
    });

    it('a role loses cases:read: its holders turn from 200 to 403', async () => {
      const role = await createRole(app().http, admin, ['cases:read', 'cases:write']);
      const holder = await userSession(app().http, admin, role.name);
      const created = await app()
        .http.post('/api/v1/cases')
        .set(holder.auth)
        .send({ title: 'Role change case' })
        .expect(201);
      const caseId = (created.body as { id: string }).id;
      await cached(getCase(holder, caseId), 200);

      await db().query(
        `UPDATE roles SET permissions = permissions - 'cases:read' WHERE name = $1`,
        [role.name],
      );

      expect(await statusWithin(getCase(holder, caseId), 403)).toBe(403);
      expectProblem(await app().http.get(`/api/v1/cases/${caseId}`).set(holder.auth), 403);
    });

    it('a conversation participant removed: turn POST and GET turn from 202/200 to 404', async () => {
      const { conversationId, owner, member } = await conversationWithMember();
      await feedDrained();
      expect(await postTurn(member, conversationId)()).toBe(202);
      expect(await getTurns(member, conversationId)()).toBe(200);
      expect(await postTurn(member, conversationId)()).toBe(202);

      await db().query(
        'DELETE FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2',
        [conversationId, member.userId],
      );

      expect(await statusWithin(postTurn(member, conversationId), 404)).toBe(404);
      expect(await getTurns(member, conversationId)()).toBe(404);
      expect(await postTurn(owner, conversationId)()).toBe(202);
    });

    it('a conversation archived: turn POST turns from 202 to 409 conversation-not-active', async () => {
      const { conversationId, owner } = await conversationWithMember();
      await feedDrained();
      expect(await postTurn(owner, conversationId)()).toBe(202);
      expect(await postTurn(owner, conversationId)()).toBe(202);

      await db().query(`UPDATE conversations SET status = 'archived' WHERE id = $1`, [
        conversationId,
      ]);

      expect(await statusWithin(postTurn(owner, conversationId), 409)).toBe(409);
      const refused = await app()
        .http.post(`/api/v1/conversations/${conversationId}/turns`)
        .set(owner.auth)
        .send(turn(++turnNumber));
      expect(expectProblem(refused, 409).type).toMatch(/conversation-not-active$/);
      // Reading is still allowed: only ingestion stops.
      expect(await getTurns(owner, conversationId)()).toBe(200);
    });
  });

  describe('changes made through the API take effect at once, with no waiting', () => {
    // The triggers are off for this block: the NOTIFY that would also follow these changes
    // cannot be what makes them visible. Only the process's own invalidation can.
    const TRIGGERS: [table: string, trigger: string][] = [
      ['users', 'users_cache_invalidation'],
      ['roles', 'roles_cache_invalidation'],
      ['refresh_tokens', 'refresh_tokens_cache_invalidation'],
      ['case_participants', 'case_participants_cache_invalidation'],
    ];
    beforeAll(async () => {
      for (const [table, trigger] of TRIGGERS)
        await db().query(`ALTER TABLE "${table}" DISABLE TRIGGER ${trigger}`);
    });
    afterAll(async () => {
      for (const [table, trigger] of TRIGGERS)
        await db().query(`ALTER TABLE "${table}" ENABLE TRIGGER ${trigger}`);
    });

    it('a participant removed by the lead: their very next GET /cases/:id is 404', async () => {
      const { caseId, lead, member } = await caseWithMember();
      await cached(getCase(member, caseId), 200);

      await app()
        .http.delete(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(lead.auth)
        .expect(204);

      expect(await getCase(member, caseId)()).toBe(404);
      expect(await getCase(lead, caseId)()).toBe(200);
    });

    it('a user deactivated by an admin: the very next request with their token is 401', async () => {
      const user = await userSession(app().http, admin, 'case_worker');
      await cached(me(user), 200);

      await app()
        .http.patch(`/api/v1/users/${user.userId}`)
        .set(admin.auth)
        .send({ isActive: false })
        .expect(200);

      expectProblem(await app().http.get('/api/v1/auth/me').set(user.auth), 401);
    });

    it('logout: the access token of that session is refused at once, other sessions go on', async () => {
      const first = await userSession(app().http, admin, 'case_worker');
      const second = await userSession(app().http, admin, 'case_worker');
      await cached(me(first), 200);
      await cached(me(second), 200);

      await app()
        .http.post('/api/v1/auth/logout')
        .set(first.auth)
        .send({ refreshToken: first.refreshToken })
        .expect(204);

      expectProblem(await app().http.get('/api/v1/auth/me').set(first.auth), 401);
      expect(await me(second)()).toBe(200);
    });

    it('a role loses cases:read through the roles API: the very next GET is 403', async () => {
      const role = await createRole(app().http, admin, ['cases:read', 'cases:write']);
      const holder = await userSession(app().http, admin, role.name);
      const created = await app()
        .http.post('/api/v1/cases')
        .set(holder.auth)
        .send({ title: 'Role change via API' })
        .expect(201);
      const caseId = (created.body as { id: string }).id;
      await cached(getCase(holder, caseId), 200);

      await app()
        .http.patch(`/api/v1/roles/${role.id}`)
        .set(admin.auth)
        .send({ permissions: ['cases:write'] })
        .expect(200);

      expectProblem(await app().http.get(`/api/v1/cases/${caseId}`).set(holder.auth), 403);
    });
  });

  describe('while the invalidation feed is down the app stays correct', () => {
    it('bypasses the cache while the listener is gone, and caches coherently once it is back', async () => {
      const { caseId, member } = await caseWithMember();
      const other = await caseWithMember();
      const user = await userSession(app().http, admin, 'case_worker');
      await cached(getCase(member, caseId), 200);
      await cached(me(user), 200);

      const [listener, ...extra] = await listenerPids();
      expect(listener).toBeDefined();
      expect(extra).toEqual([]);
      const { rows } = await db().query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend($1) AS terminated',
        [listener],
      );
      expect(rows[0]?.terminated).toBe(true);
      // The app notices the lost connection (socket closed by the server).
      const deadline = Date.now() + NOTIFY_DEADLINE_MS;
      while (invalidation.live && Date.now() < deadline) await sleep(5);
      expect(invalidation.live).toBe(false);

      // Changes nobody can hear of now: each is seen by the very next request.
      await db().query('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        caseId,
        member.userId,
      ]);
      expect(await getCase(member, caseId)()).toBe(404);
      await db().query('UPDATE users SET is_active = false WHERE id = $1', [user.userId]);
      expect(await me(user)()).toBe(401);

      // The listener comes back by itself, as a new backend.
      const back = Date.now() + RECONNECT_DEADLINE_MS;
      let pids = await listenerPids();
      while ((pids.length === 0 || pids.includes(listener!)) && Date.now() < back) {
        await sleep(50);
        pids = await listenerPids();
      }
      expect(pids).toHaveLength(1);
      expect(pids[0]).not.toBe(listener);
      expect(await invalidation.whenLive(RECONNECT_DEADLINE_MS)).toBe(true);

      // Caching again: a change nobody announces is not seen...
      await cached(getCase(other.lead, other.caseId), 200);
      await cached(getCase(other.member, other.caseId), 200);
      await silently('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        other.caseId,
        other.lead.userId,
      ]);
      expect(await getCase(other.lead, other.caseId)()).toBe(200);
      // ...and a change made by SQL propagates through the new listener: its NOTIFY drops
      // every entry of the case, the silently removed lead's included.
      await db().query('DELETE FROM case_participants WHERE case_id = $1 AND user_id = $2', [
        other.caseId,
        other.member.userId,
      ]);
      expect(await statusWithin(getCase(other.member, other.caseId), 404)).toBe(404);
      expect(await getCase(other.lead, other.caseId)()).toBe(404);
    });
  });
});
