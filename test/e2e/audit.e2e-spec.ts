import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import {
  ChainedContent,
  chainHash,
  ChainVerdict,
  ChainWalker,
  GENESIS_HASH,
} from '../../src/audit/audit-chain';
import { databaseOptions } from '../../src/core/database/database-options';
import { ACTIVITY_TYPES, AUDIT_ACTIONS } from '../../src/audit/activity-types';
import { AuditRepository, ChainRow } from '../../src/audit/audit.repository';
import { AuditService } from '../../src/audit/audit.service';
import { UsageService } from '../../src/audit/usage.service';
import {
  createUser,
  CreatedUser,
  login,
  loginAsAdmin,
  randomIp,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import {
  allAuditEntries,
  APPEND_ONLY_REFUSAL,
  AuditEntry,
  AuditPage,
  auditHead,
  nextIdAfter,
  rawRows,
  REQUEST_ID_PREFIX,
  requestId,
  verifyChain,
  withAppendOnlyDisabled,
} from '../support/audit-support';
import { isolatedDatabase } from '../support/isolated-database';
import { ADMIN } from '../support/test-run';

/** Every column of an audit entry but its id. */
const ENTRY_COLUMNS = `occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
  resource_id, case_id, outcome, details, request_id, prev_hash, hash, seq, hash_version`;
const USER_AGENT = 'verbatim-audit-e2e/1.0 (+https://example.test)';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Audit and usage (SPEC section 7, TARGETS S8)', () => {
  let t: TestApp;
  let admin: Session;
  /** The newest entry before this file appended anything. */
  let fileStart: string;
  /** Every password, token and key this file used, to prove none reached the audit log. */
  const secrets = new Set<string>([ADMIN.password]);
  /** Users this file created; their entries are scanned for secrets at the end. */
  const ourUserIds = new Set<string>();

  const remember = (...values: string[]): void => values.forEach((v) => secrets.add(v));

  /** Audit entries appended after `after` that carry the request id a test sent. */
  async function entriesOf(rid: string, after: string): Promise<AuditEntry[]> {
    const entries = await allAuditEntries(t.http, admin, { after });
    return entries.filter((entry) => entry.requestId === rid);
  }

  /** The single entry of `action` that the request `rid` produced. */
  async function entryOf(rid: string, action: string, after: string): Promise<AuditEntry> {
    const found = (await entriesOf(rid, after)).filter((entry) => entry.action === action);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  async function newUser(role = 'case_worker'): Promise<CreatedUser> {
    const user = await createUser(t.http, admin, role);
    ourUserIds.add(user.id);
    remember(user.password);
    return user;
  }

  async function sessionOf(user: CreatedUser): Promise<Session> {
    const session = await login(t.http, user.username, user.password);
    remember(session.accessToken, session.refreshToken);
    return session;
  }

  // This spec edits and restores chain entries: it owns its database, so no other
  // spec appends to the chain while an entry is tampered with.
  let database: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    database = await isolatedDatabase('audit');
    // Its own Redis prefix too: its workers must not drain other specs' turn buffers
    // into this database.
    t = await startApp({
      DATABASE_URL: database.url,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX}-audit`,
    });
    fileStart = await auditHead(t.db);
    admin = await loginAsAdmin(t.http);
    remember(admin.accessToken, admin.refreshToken);
  });
  afterAll(async () => {
    await t.close();
    await database.drop();
  });

  describe('the database refuses to change or remove audit entries', () => {
    let head: string;
    let before: string[];

    beforeAll(async () => {
      head = await auditHead(t.db);
      before = await rawRows(t.db, '1', head);
      expect(before.length).toBeGreaterThan(0);
    });

    it('refuses UPDATE of one entry and of every entry', async () => {
      await expect(
        t.db.query(`UPDATE audit_logs SET details = '{"edited":true}' WHERE id = $1`, [head]),
      ).rejects.toThrow(APPEND_ONLY_REFUSAL('UPDATE'));
      await expect(t.db.query(`UPDATE audit_logs SET outcome = 'success'`)).rejects.toThrow(
        APPEND_ONLY_REFUSAL('UPDATE'),
      );
      await expect(
        t.db.query(`UPDATE audit_logs SET hash = prev_hash WHERE id = $1`, [head]),
      ).rejects.toThrow(APPEND_ONLY_REFUSAL('UPDATE'));
    });

    it('refuses DELETE of one entry and of every entry', async () => {
      await expect(t.db.query('DELETE FROM audit_logs WHERE id = $1', [head])).rejects.toThrow(
        APPEND_ONLY_REFUSAL('DELETE'),
      );
      await expect(t.db.query('DELETE FROM audit_logs')).rejects.toThrow(
        APPEND_ONLY_REFUSAL('DELETE'),
      );
    });

    it('refuses TRUNCATE', async () => {
      await expect(t.db.query('TRUNCATE audit_logs')).rejects.toThrow(
        APPEND_ONLY_REFUSAL('TRUNCATE'),
      );
      await expect(t.db.query('TRUNCATE audit_logs CASCADE')).rejects.toThrow(
        APPEND_ONLY_REFUSAL('TRUNCATE'),
      );
    });

    it('refuses them inside a transaction too, leaving every row as it was', async () => {
      await expect(
        t.db.transaction(async (manager) => {
          await manager.query(`UPDATE audit_logs SET action = 'auth.login' WHERE id = $1`, [head]);
        }),
      ).rejects.toThrow(APPEND_ONLY_REFUSAL('UPDATE'));
      expect(await rawRows(t.db, '1', head)).toEqual(before);
      expect((await verifyChain(t.http, admin)).valid).toBe(true);
    });
  });

  describe('every authentication and administration event is recorded', () => {
    let user: CreatedUser;
    let session: Session;
    let mark: string;

    beforeAll(async () => {
      mark = await auditHead(t.db);
    });

    it('records user.create with the admin as actor and the new user as resource, without the password', async () => {
      const rid = requestId('user-create');
      const password = `pw-${randomBytes(9).toString('base64url')}`;
      const username = `audited${randomBytes(4).toString('hex')}`;
      remember(password);
      const response = await t.http
        .post('/api/v1/users')
        .set(admin.auth)
        .set('X-Request-Id', rid)
        .send({
          username,
          email: `${username}@example.test`,
          fullName: 'Audited User',
          password,
          role: 'case_worker',
        })
        .expect(201);
      user = { id: response.body.id, username, email: `${username}@example.test`, password };
      ourUserIds.add(user.id);

      const entry = await entryOf(rid, 'user.create', mark);
      expect(entry).toMatchObject({
        actorId: admin.userId,
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
        details: { username, role: 'case_worker' },
      });
      expect(JSON.stringify(entry)).not.toContain(password);
    });

    it('records auth.login with the user as actor and resource, and the caller’s ip, agent and request id', async () => {
      const rid = requestId('login');
      const ip = randomIp();
      const response = await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', ip)
        .set('User-Agent', USER_AGENT)
        .set('X-Request-Id', rid)
        .send({ login: user.username, password: user.password })
        .expect(200);
      expect(response.headers['x-request-id']).toBe(rid);
      session = {
        accessToken: response.body.accessToken,
        refreshToken: response.body.refreshToken,
        userId: user.id,
        auth: { Authorization: `Bearer ${response.body.accessToken}` },
      };
      remember(session.accessToken, session.refreshToken);

      const entry = await entryOf(rid, 'auth.login', mark);
      expect(entry).toMatchObject({
        actorId: user.id,
        actorIp: ip,
        userAgent: USER_AGENT,
        requestId: rid,
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
        caseId: null,
      });
    });

    it('records auth.login_failed for a wrong password as a failure naming the account, never the password', async () => {
      const rid = requestId('login-failed');
      const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
      remember(wrong);
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', randomIp())
        .set('X-Request-Id', rid)
        .send({ login: user.username, password: wrong })
        .expect(401);

      const entry = await entryOf(rid, 'auth.login_failed', mark);
      expect(entry).toMatchObject({
        actorId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'failure',
      });
      expect(JSON.stringify(entry.details)).not.toContain(wrong);
      expect(JSON.stringify(entry)).not.toContain(wrong);
    });

    it('records auth.login_failed for an unknown login with no actor', async () => {
      const rid = requestId('login-unknown');
      const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
      remember(wrong);
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', randomIp())
        .set('X-Request-Id', rid)
        .send({ login: `nobody-${randomBytes(6).toString('hex')}`, password: wrong })
        .expect(401);

      const entry = await entryOf(rid, 'auth.login_failed', mark);
      expect(entry).toMatchObject({ actorId: null, resourceId: null, outcome: 'failure' });
      expect(JSON.stringify(entry)).not.toContain(wrong);
    });

    it('records auth.lockout when an account reaches the failure limit, then every refused attempt', async () => {
      const victim = await newUser();
      const ip = randomIp();
      const attempt = async (rid: string, status: number) =>
        t.http
          .post('/api/v1/auth/login')
          .set('X-Forwarded-For', ip)
          .set('X-Request-Id', rid)
          .send({ login: victim.username, password: `not-${victim.password}` })
          .expect(status);
      remember(`not-${victim.password}`);

      const rids = Array.from({ length: 5 }, (_, i) => requestId(`lock-${i}`));
      for (const rid of rids) await attempt(rid, 401);
      const locked = await attempt(requestId('locked'), 429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);

      const lockout = await entryOf(rids[4]!, 'auth.lockout', mark);
      expect(lockout).toMatchObject({
        actorId: victim.id,
        actorIp: ip,
        resourceType: 'user',
        resourceId: victim.id,
        outcome: 'failure',
      });
      expect(lockout.details.scopes).toContain('account');
      for (const rid of rids.slice(0, 4)) {
        expect((await entriesOf(rid, mark)).map((e) => e.action)).toEqual(['auth.login_failed']);
      }
      const refused = await allAuditEntries(t.http, admin, {
        after: mark,
        actorId: victim.id,
        action: 'auth.login_failed',
      });
      expect(refused).toHaveLength(6);
      expect(refused.every((e) => e.outcome === 'failure' && e.resourceId === victim.id)).toBe(
        true,
      );
    });

    it('records auth.refresh and auth.logout against the session, with the user as actor', async () => {
      const refreshRid = requestId('refresh');
      const refreshed = await t.http
        .post('/api/v1/auth/refresh')
        .set('X-Request-Id', refreshRid)
        .send({ refreshToken: session.refreshToken })
        .expect(200);
      const next = refreshed.body as { accessToken: string; refreshToken: string };
      remember(next.accessToken, next.refreshToken);
      const [token] = await t.db.query<{ family_id: string }[]>(
        'SELECT family_id FROM refresh_tokens WHERE id = $1 AND user_id = $2',
        [next.refreshToken.split('.')[0], user.id],
      );
      const familyId = token!.family_id;

      const refresh = await entryOf(refreshRid, 'auth.refresh', mark);
      expect(refresh).toMatchObject({
        actorId: user.id,
        resourceType: 'session',
        outcome: 'success',
      });
      // The entry names this session: its token family, or the token issued in it.
      expect(refresh.resourceId).toMatch(UUID);
      expect([familyId, next.refreshToken.split('.')[0]]).toContain(refresh.resourceId);

      const logoutRid = requestId('logout');
      await t.http
        .post('/api/v1/auth/logout')
        .set({ Authorization: `Bearer ${next.accessToken}` })
        .set('X-Request-Id', logoutRid)
        .send({ refreshToken: next.refreshToken })
        .expect(204);
      expect(await entryOf(logoutRid, 'auth.logout', mark)).toMatchObject({
        actorId: user.id,
        resourceType: 'session',
        resourceId: familyId,
        outcome: 'success',
      });
    });

    it('records auth.password_change, failed and successful, with neither password', async () => {
      session = await sessionOf(user);
      const wrongRid = requestId('password-wrong');
      const wrong = `wrong-current-${randomBytes(6).toString('hex')}`;
      const newPassword = `new-password-${randomBytes(9).toString('base64url')}`;
      remember(wrong, newPassword);
      await t.http
        .post('/api/v1/auth/password')
        .set(session.auth)
        .set('X-Request-Id', wrongRid)
        .send({ currentPassword: wrong, newPassword })
        .expect(403);
      const failed = await entryOf(wrongRid, 'auth.password_change', mark);
      expect(failed).toMatchObject({ actorId: user.id, resourceId: user.id, outcome: 'failure' });

      const rid = requestId('password');
      const changed = await t.http
        .post('/api/v1/auth/password')
        .set(session.auth)
        .set('X-Request-Id', rid)
        .send({ currentPassword: user.password, newPassword })
        .expect(200);
      remember(changed.body.accessToken, changed.body.refreshToken);
      const entry = await entryOf(rid, 'auth.password_change', mark);
      expect(entry).toMatchObject({
        actorId: user.id,
        resourceType: 'user',
        resourceId: user.id,
        outcome: 'success',
      });
      for (const e of [failed, entry]) {
        expect(JSON.stringify(e)).not.toContain(user.password);
        expect(JSON.stringify(e)).not.toContain(newPassword);
        expect(JSON.stringify(e)).not.toContain(wrong);
      }
      user = { ...user, password: newPassword };
      session = {
        accessToken: changed.body.accessToken,
        refreshToken: changed.body.refreshToken,
        userId: user.id,
        auth: { Authorization: `Bearer ${changed.body.accessToken}` },
      };
    });

    it('records role.create, role.update and role.delete with the admin as actor and the role as resource', async () => {
      const name = `audited_${randomBytes(4).toString('hex')}`;
      const createRid = requestId('role-create');
      const created = await t.http
        .post('/api/v1/roles')
        .set(admin.auth)
        .set('X-Request-Id', createRid)
        .send({ name, description: 'audit test', permissions: ['cases:read'] })
        .expect(201);
      const roleId = created.body.id as string;

      const updateRid = requestId('role-update');
      await t.http
        .patch(`/api/v1/roles/${roleId}`)
        .set(admin.auth)
        .set('X-Request-Id', updateRid)
        .send({ permissions: ['cases:read', 'audio:read'] })
        .expect(200);

      const deleteRid = requestId('role-delete');
      await t.http
        .delete(`/api/v1/roles/${roleId}`)
        .set(admin.auth)
        .set('X-Request-Id', deleteRid)
        .expect(204);

      const expected = { actorId: admin.userId, resourceType: 'role', resourceId: roleId };
      expect(await entryOf(createRid, 'role.create', mark)).toMatchObject({
        ...expected,
        details: { name, permissions: ['cases:read'] },
      });
      expect(await entryOf(updateRid, 'role.update', mark)).toMatchObject({
        ...expected,
        details: { name, permissions: ['cases:read', 'audio:read'] },
      });
      expect(await entryOf(deleteRid, 'role.delete', mark)).toMatchObject({
        ...expected,
        details: { name },
      });
    });

    it('records api_key.create and api_key.revoke with the owner as actor and the key as resource, never the key', async () => {
      const createRid = requestId('key-create');
      const created = await t.http
        .post('/api/v1/api-keys')
        .set(session.auth)
        .set('X-Request-Id', createRid)
        .send({ name: 'audited-key' })
        .expect(201);
      const key = created.body as { id: string; key: string };
      remember(key.key);

      const revokeRid = requestId('key-revoke');
      await t.http
        .delete(`/api/v1/api-keys/${key.id}`)
        .set(session.auth)
        .set('X-Request-Id', revokeRid)
        .expect(204);

      const expected = { actorId: user.id, resourceType: 'api_key', resourceId: key.id };
      const create = await entryOf(createRid, 'api_key.create', mark);
      expect(create).toMatchObject({ ...expected, details: { name: 'audited-key' } });
      expect(await entryOf(revokeRid, 'api_key.revoke', mark)).toMatchObject(expected);
      expect(JSON.stringify(create)).not.toContain(key.key);
      expect(JSON.stringify(create)).not.toContain(key.key.slice(12));
    });

    it('records the address the trusted proxy appended, truncated when over-long', async () => {
      const spoofed = requestId('spoofed-ip');
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', `${'9'.repeat(100)}, 10.0.0.1`)
        .set('X-Request-Id', spoofed)
        .send({ login: `nobody-${randomBytes(6).toString('hex')}`, password: 'whatever-password' })
        .expect(401);
      expect((await entryOf(spoofed, 'auth.login_failed', mark)).actorIp).toBe('10.0.0.1');

      const long = requestId('long-ip');
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', '9'.repeat(100))
        .set('X-Request-Id', long)
        .send({ login: `nobody-${randomBytes(6).toString('hex')}`, password: 'whatever-password' })
        .expect(401);
      const entry = await entryOf(long, 'auth.login_failed', mark);
      expect(entry.actorIp).toEqual(expect.any(String));
      expect('9'.repeat(100).startsWith(entry.actorIp!)).toBe(true);
    });
  });

  describe('GET /audit lists entries, narrowed by every filter, page by page', () => {
    let mark: string;
    let alice: CreatedUser;
    let bob: CreatedUser;
    /** Entries of the setup, by label. */
    const seen: Record<string, AuditEntry> = {};
    const rids: Record<string, string> = {};
    const ips: Record<string, string> = {};

    async function loginAs(label: string, who: CreatedUser, password = who.password) {
      rids[label] = requestId(label);
      ips[label] = randomIp();
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', ips[label])
        .set('User-Agent', `${USER_AGENT} ${label}`)
        .set('X-Request-Id', rids[label])
        .send({ login: who.username, password })
        .expect(password === who.password ? 200 : 401);
    }

    beforeAll(async () => {
      mark = await auditHead(t.db);
      alice = await newUser();
      bob = await newUser();
      await loginAs('alice-login', alice);
      await loginAs('alice-failed', alice, `bad-${alice.password}`);
      remember(`bad-${alice.password}`);
      await loginAs('bob-login-1', bob);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await loginAs('bob-login-2', bob);
      const entries = await allAuditEntries(t.http, admin, { after: mark });
      for (const [label, rid] of Object.entries(rids)) {
        const entry = entries.find((e) => e.requestId === rid);
        expect(entry).toBeDefined();
        seen[label] = entry!;
      }
    });

    const ids = (entries: AuditEntry[]) => entries.map((e) => e.id);

    it('exposes ids as strings and returns them in strictly increasing order', async () => {
      const entries = await allAuditEntries(t.http, admin, { after: mark });
      expect(entries.length).toBeGreaterThanOrEqual(6);
      for (const entry of entries) expect(entry.id).toMatch(/^[1-9]\d*$/);
      for (let i = 1; i < entries.length; i++) {
        expect(BigInt(entries[i]!.id)).toBeGreaterThan(BigInt(entries[i - 1]!.id));
      }
    });

    it('carries the caller’s ip, user agent and the X-Request-Id it sent', () => {
      for (const label of Object.keys(rids)) {
        expect(seen[label]).toMatchObject({
          actorIp: ips[label],
          userAgent: `${USER_AGENT} ${label}`,
          requestId: rids[label],
        });
        expect(seen[label]!.occurredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(seen[label]!.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(seen[label]!.prevHash).toMatch(/^[0-9a-f]{64}$/);
      }
    });

    it('filters by actorId', async () => {
      const entries = await allAuditEntries(t.http, admin, { after: mark, actorId: bob.id });
      expect(ids(entries)).toEqual([seen['bob-login-1']!.id, seen['bob-login-2']!.id]);
    });

    it('filters by action', async () => {
      const entries = await allAuditEntries(t.http, admin, {
        after: mark,
        action: 'auth.login_failed',
      });
      expect(entries.every((e) => e.action === 'auth.login_failed')).toBe(true);
      expect(ids(entries)).toContain(seen['alice-failed']!.id);
      expect(ids(entries)).not.toContain(seen['alice-login']!.id);
    });

    it('filters by resourceType and resourceId', async () => {
      const entries = await allAuditEntries(t.http, admin, {
        after: mark,
        resourceType: 'user',
        resourceId: alice.id,
      });
      expect(entries.map((e) => e.action)).toEqual([
        'user.create',
        'auth.login',
        'auth.login_failed',
      ]);
      expect(entries.every((e) => e.resourceType === 'user' && e.resourceId === alice.id)).toBe(
        true,
      );
      const ofType = await allAuditEntries(t.http, admin, { after: mark, resourceType: 'role' });
      expect(ofType.every((e) => e.resourceType === 'role')).toBe(true);
      expect(ids(ofType)).not.toContain(seen['alice-login']!.id);
    });

    it('filters by outcome', async () => {
      const failures = await allAuditEntries(t.http, admin, {
        after: mark,
        actorId: alice.id,
        outcome: 'failure',
      });
      expect(ids(failures)).toEqual([seen['alice-failed']!.id]);
      const successes = await allAuditEntries(t.http, admin, {
        after: mark,
        actorId: alice.id,
        outcome: 'success',
      });
      expect(ids(successes)).toEqual([seen['alice-login']!.id]);
    });

    it('filters by caseId', async () => {
      const entries = await allAuditEntries(t.http, admin, { after: mark, caseId: randomUUID() });
      expect(entries).toEqual([]);
    });

    it('filters by time: from inclusive, to exclusive', async () => {
      const second = seen['bob-login-2']!;
      const at = Date.parse(second.occurredAt);
      const from = new Date(at).toISOString();
      const to = new Date(at + 1).toISOString();

      const exactly = await allAuditEntries(t.http, admin, { after: mark, from, to });
      expect(ids(exactly)).toContain(second.id);
      expect(exactly.every((e) => e.occurredAt === second.occurredAt)).toBe(true);

      const sinceSecond = await allAuditEntries(t.http, admin, { actorId: bob.id, from });
      expect(ids(sinceSecond)).toEqual([second.id]);
      const beforeSecond = await allAuditEntries(t.http, admin, { actorId: bob.id, to: from });
      expect(ids(beforeSecond)).toEqual([seen['bob-login-1']!.id]);
      const empty = await allAuditEntries(t.http, admin, { actorId: bob.id, from: to, to: from });
      expect(empty).toEqual([]);
    });

    it('pages with after and limit; nextCursor is the last id, then null at the end', async () => {
      const filter = { resourceType: 'user', resourceId: alice.id };
      const first = await t.http
        .get('/api/v1/audit')
        .set(admin.auth)
        .query({ ...filter, limit: 2 })
        .expect(200);
      const page1 = first.body as AuditPage;
      expect(page1.data).toHaveLength(2);
      expect(page1.meta.nextCursor).toBe(page1.data[1]!.id);

      const second = await t.http
        .get('/api/v1/audit')
        .set(admin.auth)
        .query({ ...filter, limit: 2, after: page1.meta.nextCursor! })
        .expect(200);
      const page2 = second.body as AuditPage;
      expect(page2.data).toHaveLength(1);
      expect(page2.meta.nextCursor).toBeNull();
      expect(BigInt(page2.data[0]!.id)).toBeGreaterThan(BigInt(page1.data[1]!.id));

      // A last page that is exactly full still ends the stream.
      const exact = await t.http
        .get('/api/v1/audit')
        .set(admin.auth)
        .query({ actorId: bob.id, after: mark, limit: 2 })
        .expect(200);
      expect((exact.body as AuditPage).data).toHaveLength(2);
      expect((exact.body as AuditPage).meta.nextCursor).toBeNull();

      // Walking one at a time yields the same entries as big pages. Ids become visible in
      // order (each is allocated under the chain lock, held until commit), so both walks
      // are prefixes of one sequence even while other writers append.
      const single = await allAuditEntries(t.http, admin, { after: mark }, 1);
      const big = await allAuditEntries(t.http, admin, { after: mark }, 100);
      const common = Math.min(single.length, big.length);
      expect(common).toBeGreaterThanOrEqual(6);
      expect(ids(single).slice(0, common)).toEqual(ids(big).slice(0, common));
    });

    it('defaults to 50 entries and caps limit at 100 with a 400 problem', async () => {
      const page = await t.http.get('/api/v1/audit').set(admin.auth).expect(200);
      expect((page.body as AuditPage).data.length).toBeLessThanOrEqual(50);

      const response = await t.http
        .get('/api/v1/audit')
        .set(admin.auth)
        .query({ limit: 101 })
        .expect(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ status: 400 });
      expect(response.body.errors).toContainEqual({ field: 'limit', message: expect.any(String) });
      await t.http.get('/api/v1/audit').set(admin.auth).query({ limit: 0 }).expect(400);
      await t.http.get('/api/v1/audit').set(admin.auth).query({ limit: 'many' }).expect(400);
    });

    it('rejects a malformed cursor or filter with a 400 problem', async () => {
      for (const query of [
        { after: 'abc' },
        { after: '-1' },
        { after: '1.5' },
        { after: '99999999999999999999' },
        { actorId: 'not-a-uuid' },
        { caseId: 'x' },
        { outcome: 'maybe' },
        { action: 'DROP TABLE' },
        { from: 'yesterday' },
        { to: '2026-02-30T00:00:00Z' },
        { unknown: '1' },
      ]) {
        const response = await t.http.get('/api/v1/audit').set(admin.auth).query(query);
        expect({ query, status: response.status }).toEqual({ query, status: 400 });
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });

    it('is for audit:read only', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      ourUserIds.add(worker.userId);
      remember(worker.accessToken, worker.refreshToken, worker.user.password);
      await t.http.get('/api/v1/audit').set(worker.auth).expect(403);
      await t.http.get('/api/v1/audit/verify').set(worker.auth).expect(403);
      const auditor = await userSession(t.http, admin, 'auditor');
      ourUserIds.add(auditor.userId);
      remember(auditor.accessToken, auditor.refreshToken, auditor.user.password);
      await t.http.get('/api/v1/audit').set(auditor.auth).query({ limit: 1 }).expect(200);
      await t.http.get('/api/v1/audit').expect(401);
    });
  });

  describe('concurrent writers extend one unbroken chain', () => {
    it('links 50 concurrent key creations and 50 concurrent failed logins one after another', async () => {
      const owner = await newUser();
      const ownerSession = await sessionOf(owner);
      const mark = await auditHead(t.db);
      const rids = new Set<string>();

      const requests = [
        ...Array.from({ length: 50 }, (_, i) => {
          const rid = requestId(`burst-key-${i}`);
          rids.add(rid);
          return t.http
            .post('/api/v1/api-keys')
            .set(ownerSession.auth)
            .set('X-Request-Id', rid)
            .send({ name: `burst-${i}` })
            .expect(201)
            .then((response) => remember(response.body.key));
        }),
        ...Array.from({ length: 50 }, (_, i) => {
          const rid = requestId(`burst-login-${i}`);
          rids.add(rid);
          return t.http
            .post('/api/v1/auth/login')
            .set('X-Forwarded-For', randomIp())
            .set('X-Request-Id', rid)
            .send({ login: `ghost-${rid}`, password: `burst-password-${i}` })
            .expect(401);
        }),
      ];
      await Promise.all(requests);

      // Every entry from the mark on, including any that other test files appended meanwhile.
      const entries = await allAuditEntries(t.http, admin, { after: mark });
      const ours = entries.filter((e) => e.requestId !== null && rids.has(e.requestId));
      expect(ours).toHaveLength(100);
      expect(ours.filter((e) => e.action === 'api_key.create')).toHaveLength(50);
      expect(ours.filter((e) => e.action === 'auth.login_failed')).toHaveLength(50);

      const [predecessor] = await t.db.query<{ hash: string }[]>(
        'SELECT hash FROM audit_logs WHERE id <= $1 ORDER BY id DESC LIMIT 1',
        [mark],
      );
      let expectedPrev = predecessor!.hash;
      for (const entry of entries) {
        expect({ id: entry.id, prevHash: entry.prevHash }).toEqual({
          id: entry.id,
          prevHash: expectedPrev,
        });
        expectedPrev = entry.hash;
      }
      // F8: one seq after the other, without a gap or a repeat, under concurrent writers.
      expect(entries.map((e) => e.seq - entries[0]!.seq)).toEqual(entries.map((_, i) => i));
      expect(entries.every((e) => e.hashVersion === 2)).toBe(true);
      expect(new Set(entries.map((e) => e.prevHash)).size).toBe(entries.length);
      expect(new Set(entries.map((e) => e.hash)).size).toBe(entries.length);

      const verdict = await verifyChain(t.http, admin);
      expect(verdict.valid).toBe(true);
      expect(verdict.firstBrokenId).toBeUndefined();
    });

    it('chains entries recorded together (one statement) in order, each with its own request id, between concurrent single writers', async () => {
      const audit = t.app.get(AuditService);
      const mark = await auditHead(t.db);
      const batches = Array.from({ length: 5 }, (_, b) =>
        Array.from({ length: 8 }, (_, i) => ({
          action: 'audio.archive' as const,
          resourceType: 'audio',
          resourceId: randomUUID(),
          actorId: admin.userId,
          requestId: requestId(`grouped-${b}-${i}`),
          details: { reason: `batch ${b}`, retention: false },
        })),
      );
      await Promise.all([
        ...batches.map((events) => audit.recordMany(events)),
        ...Array.from({ length: 10 }, (_, i) =>
          t.http
            .post('/api/v1/api-keys')
            .set(admin.auth)
            .send({ name: `between-${i}` })
            .expect(201)
            .then((response) => remember(response.body.key)),
        ),
      ]);

      const entries = await allAuditEntries(t.http, admin, { after: mark });
      for (const events of batches) {
        const written = entries.filter((e) => events.some((v) => v.resourceId === e.resourceId));
        // In the order given, each under its own request id, and nothing else in between.
        expect(written.map((e) => [e.resourceId, e.requestId])).toEqual(
          events.map((v) => [v.resourceId, v.requestId]),
        );
        const positions = written.map((e) => entries.indexOf(e));
        expect(positions[positions.length - 1]! - positions[0]!).toBe(events.length - 1);
      }
      for (let i = 1; i < entries.length; i++) {
        expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
        expect(entries[i]!.seq).toBe(entries[i - 1]!.seq + 1);
      }
      expect(await verifyChain(t.http, admin)).toEqual(expect.objectContaining({ valid: true }));
      expect(await audit.recordMany([])).toBeUndefined();
    });
  });

  describe('GET /audit/verify finds any edit or deletion', () => {
    /** Two fresh entries of our own: `target`, and at least one after it. */
    async function freshEntries(): Promise<{ target: string; next: string }> {
      const mark = await auditHead(t.db);
      const rid = requestId('tamper-target');
      await t.http
        .post('/api/v1/api-keys')
        .set(admin.auth)
        .set('X-Request-Id', rid)
        .send({ name: 'tamper-target' })
        .expect(201)
        .then((response) => remember(response.body.key));
      await t.http
        .post('/api/v1/api-keys')
        .set(admin.auth)
        .send({ name: 'tamper-successor' })
        .expect(201)
        .then((response) => remember(response.body.key));
      const target = (await entryOf(rid, 'api_key.create', mark)).id;
      const next = await nextIdAfter(t.db, target);
      expect(next).not.toBeNull();
      return { target, next: next! };
    }

    it('starts from a valid chain covering every entry', async () => {
      const [count] = await t.db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM audit_logs',
      );
      const verdict = await verifyChain(t.http, admin);
      expect(verdict.valid).toBe(true);
      expect(verdict.checked).toBeGreaterThanOrEqual(count!.n);
    });

    it('names an entry whose details were edited, and is valid again once restored', async () => {
      const { target } = await freshEntries();
      const [original] = await t.db.query<{ details: string }[]>(
        'SELECT details::text AS details FROM audit_logs WHERE id = $1',
        [target],
      );
      const before = await rawRows(t.db, target, target);
      await withAppendOnlyDisabled(t.db, async () => {
        try {
          await t.db.query(
            `UPDATE audit_logs SET details = details || '{"name":"innocent"}' WHERE id = $1`,
            [target],
          );
          const verdict = await verifyChain(t.http, admin);
          expect(verdict).toMatchObject({ valid: false, firstBrokenId: target });
          expect(verdict.checked).toBeGreaterThan(0);
        } finally {
          await t.db.query('UPDATE audit_logs SET details = $1::jsonb WHERE id = $2', [
            original!.details,
            target,
          ]);
        }
      });
      expect(await rawRows(t.db, target, target)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('names an entry whose time was moved by a millisecond, or to the same wall-clock time BC', async () => {
      const { target } = await freshEntries();
      const before = await rawRows(t.db, target, target);
      const [original] = await t.db.query<{ at: string }[]>(
        'SELECT occurred_at::text AS at FROM audit_logs WHERE id = $1',
        [target],
      );
      await withAppendOnlyDisabled(t.db, async () => {
        for (const moved of [
          `occurred_at + interval '1 millisecond'`,
          `(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' BC')::timestamp AT TIME ZONE 'UTC'`,
        ]) {
          try {
            await t.db.query(`UPDATE audit_logs SET occurred_at = ${moved} WHERE id = $1`, [
              target,
            ]);
            expect(await verifyChain(t.http, admin)).toMatchObject({
              valid: false,
              firstBrokenId: target,
            });
          } finally {
            await t.db.query('UPDATE audit_logs SET occurred_at = $1::timestamptz WHERE id = $2', [
              original!.at,
              target,
            ]);
          }
        }
      });
      expect(await rawRows(t.db, target, target)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('fails the request, not the process, on an entry it cannot read (time set to infinity)', async () => {
      const { target } = await freshEntries();
      const before = await rawRows(t.db, target, target);
      const [original] = await t.db.query<{ at: string }[]>(
        'SELECT occurred_at::text AS at FROM audit_logs WHERE id = $1',
        [target],
      );
      await withAppendOnlyDisabled(t.db, async () => {
        try {
          await t.db.query(`UPDATE audit_logs SET occurred_at = 'infinity' WHERE id = $1`, [
            target,
          ]);
          await t.http.get('/api/v1/audit/verify').set(admin.auth).expect(500);
        } finally {
          await t.db.query('UPDATE audit_logs SET occurred_at = $1::timestamptz WHERE id = $2', [
            original!.at,
            target,
          ]);
        }
      });
      expect(await rawRows(t.db, target, target)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('names the entry after an edited one whose own hash was recomputed: their link no longer holds', async () => {
      const { target, next } = await freshEntries();
      const [row] = await t.db.query<ChainRow[]>(
        `SELECT id::text AS id, occurred_at AS "occurredAt", actor_id AS "actorId", actor_ip AS "actorIp",
                user_agent AS "userAgent", action, resource_type AS "resourceType",
                resource_id AS "resourceId", case_id AS "caseId", outcome, details,
                request_id AS "requestId", prev_hash AS "prevHash", hash,
                seq::float8 AS seq, hash_version AS "hashVersion"
           FROM audit_logs WHERE id = $1`,
        [target],
      );
      // The forger changes the outcome and recomputes the entry's own hash to match.
      const forgedHash = chainHash(row!.prevHash, { ...row!, outcome: 'failure' });
      expect(chainHash(row!.prevHash, row!)).toBe(row!.hash);
      const before = await rawRows(t.db, target, target);
      await withAppendOnlyDisabled(t.db, async () => {
        try {
          await t.db.query(`UPDATE audit_logs SET outcome = 'failure', hash = $1 WHERE id = $2`, [
            forgedHash,
            target,
          ]);
          expect(await verifyChain(t.http, admin)).toMatchObject({
            valid: false,
            firstBrokenId: next,
            reason: 'link',
          });
        } finally {
          await t.db.query('UPDATE audit_logs SET outcome = $1, hash = $2 WHERE id = $3', [
            row!.outcome,
            row!.hash,
            target,
          ]);
        }
      });
      expect(await rawRows(t.db, target, target)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('names the entry after a deleted one, and is valid again once it is re-inserted exactly', async () => {
      const { target, next } = await freshEntries();
      const before = await rawRows(t.db, target, next);
      const runner = t.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(
          'CREATE TEMP TABLE audit_saved ON COMMIT PRESERVE ROWS AS SELECT * FROM audit_logs WHERE id = $1',
          [target],
        );
        await withAppendOnlyDisabled(t.db, async () => {
          try {
            await runner.query('DELETE FROM audit_logs WHERE id = $1', [target]);
            expect(await verifyChain(t.http, admin)).toMatchObject({
              valid: false,
              firstBrokenId: next,
            });
          } finally {
            await runner.query(
              'INSERT INTO audit_logs SELECT * FROM audit_saved WHERE NOT EXISTS (SELECT 1 FROM audit_logs WHERE id = $1)',
              [target],
            );
          }
        });
      } finally {
        await runner.query('DROP TABLE IF EXISTS audit_saved');
        await runner.release();
      }
      expect(await rawRows(t.db, target, next)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    async function seqOf(id: string): Promise<number> {
      const [row] = await t.db.query<{ seq: number }[]>(
        'SELECT seq::float8 AS seq FROM audit_logs WHERE id = $1',
        [id],
      );
      return row!.seq;
    }

    /** Deletes `target` (saved first), runs `tamper`, then puts the chain back as it was. */
    async function withoutEntry(
      target: string,
      last: string,
      tamper: (runner: QueryRunner) => Promise<void>,
    ): Promise<void> {
      const before = await rawRows(t.db, target, last);
      const runner = t.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(
          'CREATE TEMP TABLE audit_saved ON COMMIT PRESERVE ROWS AS SELECT * FROM audit_logs WHERE id = $1',
          [target],
        );
        await withAppendOnlyDisabled(t.db, async () => {
          try {
            await runner.query('DELETE FROM audit_logs WHERE id = $1', [target]);
            await tamper(runner);
          } finally {
            await runner.query(
              'DELETE FROM audit_logs WHERE seq = (SELECT seq FROM audit_saved) AND id <> $1',
              [target],
            );
            await runner.query(
              'INSERT INTO audit_logs SELECT * FROM audit_saved WHERE NOT EXISTS (SELECT 1 FROM audit_logs WHERE id = $1)',
              [target],
            );
          }
        });
      } finally {
        await runner.query('DROP TABLE IF EXISTS audit_saved');
        await runner.release();
      }
      expect(await rawRows(t.db, target, last)).toEqual(before);
    }

    it('F8: names the gap in seq that a deleted middle entry leaves, in the API and the CLI walk', async () => {
      const { target, next } = await freshEntries();
      const seq = await seqOf(target);
      expect(await seqOf(next)).toBe(seq + 1);
      await withoutEntry(target, next, async () => {
        const expected = {
          valid: false,
          firstBrokenId: next,
          reason: 'seq_gap',
          expectedSeq: seq,
          foundSeq: seq + 1,
        };
        expect(await verifyChain(t.http, admin)).toMatchObject(expected);
        // What `verify-audit` and the restore walk call.
        expect(await t.app.get(AuditService).verify({})).toMatchObject(expected);
      });
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('F8: names the gap when a deleted entry is appended again at the end of the chain', async () => {
      const { target, next } = await freshEntries();
      const seq = await seqOf(target);
      await withoutEntry(target, next, async (runner) => {
        await runner.query(
          `INSERT INTO audit_logs (id, ${ENTRY_COLUMNS})
           SELECT nextval('audit_logs_id_seq'), ${ENTRY_COLUMNS} FROM audit_saved`,
        );
        expect(await verifyChain(t.http, admin)).toMatchObject({
          valid: false,
          firstBrokenId: next,
          reason: 'seq_gap',
          expectedSeq: seq,
        });
      });
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('F8: refuses a copy of an entry under a new id: its seq is taken', async () => {
      const { target } = await freshEntries();
      await withAppendOnlyDisabled(t.db, async () => {
        await expect(
          t.db.query(
            `INSERT INTO audit_logs (id, ${ENTRY_COLUMNS})
             SELECT nextval('audit_logs_id_seq'), ${ENTRY_COLUMNS} FROM audit_logs WHERE id = $1`,
            [target],
          ),
        ).rejects.toThrow(/audit_logs_seq_key/);
      });
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });

    it('names the first of two neighbours whose contents were swapped', async () => {
      const { target, next } = await freshEntries();
      const before = await rawRows(t.db, target, next);
      // Swap the contents of two neighbours, keeping each id and seq: the order of events
      // changes. (Swapping seq too is refused by its unique index; the unit tests cover it.)
      const columns = `occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                       resource_id, case_id, outcome, details, request_id, prev_hash, hash`;
      const runner = t.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(
          'CREATE TEMP TABLE audit_saved ON COMMIT PRESERVE ROWS AS SELECT * FROM audit_logs WHERE id IN ($1, $2)',
          [target, next],
        );
        await withAppendOnlyDisabled(t.db, async () => {
          try {
            await runner.query(
              `UPDATE audit_logs a SET (${columns}) = (SELECT ${columns} FROM audit_saved b WHERE b.id = $2) WHERE a.id = $1`,
              [target, next],
            );
            await runner.query(
              `UPDATE audit_logs a SET (${columns}) = (SELECT ${columns} FROM audit_saved b WHERE b.id = $2) WHERE a.id = $1`,
              [next, target],
            );
            expect(await verifyChain(t.http, admin)).toMatchObject({
              valid: false,
              firstBrokenId: target,
            });
          } finally {
            for (const id of [target, next]) {
              await runner.query(
                `UPDATE audit_logs a SET (${columns}) = (SELECT ${columns} FROM audit_saved b WHERE b.id = $1) WHERE a.id = $1`,
                [id],
              );
            }
          }
        });
      } finally {
        await runner.query('DROP TABLE IF EXISTS audit_saved');
        await runner.release();
      }
      expect(await rawRows(t.db, target, next)).toEqual(before);
      expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
    });
  });

  describe('GET /audit/verify?from=&to= checks a part of the chain', () => {
    it('reports how many entries of the period it checked', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const from = new Date().toISOString();
      for (let i = 0; i < 3; i++) {
        await t.http
          .post('/api/v1/api-keys')
          .set(admin.auth)
          .send({ name: `range-${i}` })
          .expect(201)
          .then((response) => remember(response.body.key));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      const to = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 50));

      const verdict = await verifyChain(t.http, admin, { from, to });
      // The part of the chain from the period's first entry to its last, every link between.
      const [period] = await t.db.query<{ inPeriod: number; span: number }[]>(
        `WITH p AS (SELECT id FROM audit_logs WHERE occurred_at >= $1 AND occurred_at < $2)
         SELECT (SELECT count(*) FROM p)::int AS "inPeriod",
                (SELECT count(*) FROM audit_logs
                  WHERE id BETWEEN (SELECT min(id) FROM p) AND (SELECT max(id) FROM p))::int AS span`,
        [from, to],
      );
      expect(verdict).toEqual({ valid: true, checked: period!.span });
      expect(period!.span).toBeGreaterThanOrEqual(period!.inPeriod);
      expect(period!.inPeriod).toBeGreaterThanOrEqual(3);

      const whole = await verifyChain(t.http, admin);
      expect(whole.checked).toBeGreaterThan(verdict.checked);
    });

    it('checks nothing, validly, in a period without entries', async () => {
      const from = new Date(Date.now() + 365 * 86_400_000).toISOString();
      expect(await verifyChain(t.http, admin, { from })).toEqual({ valid: true, checked: 0 });
      expect(await verifyChain(t.http, admin, { to: '2000-01-01T00:00:00.000Z' })).toEqual({
        valid: true,
        checked: 0,
      });
    });

    it('finds a period valid wherever it starts or ends, even when entry times do not follow chain order', async () => {
      // A replica whose clock lags (or a writer that waited for the chain lock) appends an
      // entry stamped earlier than its predecessor. The chain is intact; every period must say so.
      const repository = t.app.get(AuditRepository);
      const mark = await auditHead(t.db);
      await t.http
        .post('/api/v1/api-keys')
        .set(admin.auth)
        .send({ name: 'clock-1' })
        .expect(201)
        .then((response) => remember(response.body.key));
      const [first] = await allAuditEntries(t.http, admin, { after: mark, actorId: admin.userId });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await repository.inTransaction((manager) =>
        repository.append(
          {
            occurredAt: new Date(Date.parse(first!.occurredAt) - 25),
            actorId: admin.userId,
            actorIp: '127.0.0.1',
            userAgent: 'lagging-replica',
            action: 'user.update',
            resourceType: 'user',
            resourceId: admin.userId,
            caseId: null,
            outcome: 'success',
            details: { fields: [], passwordReset: false },
            requestId: requestId('lagging'),
          },
          manager,
        ),
      );
      await t.http
        .post('/api/v1/api-keys')
        .set(admin.auth)
        .send({ name: 'clock-2' })
        .expect(201)
        .then((response) => remember(response.body.key));
      const entries = await allAuditEntries(t.http, admin, { after: mark });
      expect(entries.length).toBeGreaterThanOrEqual(3);

      const boundaries = new Set<string>();
      for (const entry of entries) {
        const at = Date.parse(entry.occurredAt);
        boundaries.add(new Date(at).toISOString());
        boundaries.add(new Date(at + 1).toISOString());
      }
      for (const boundary of boundaries) {
        for (const range of [{ from: boundary }, { to: boundary }]) {
          const verdict = await verifyChain(t.http, admin, range);
          expect({ range, verdict }).toEqual({
            range,
            verdict: { valid: true, checked: expect.any(Number) },
          });
        }
      }
    });

    it('still finds an edit inside the period', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const from = new Date().toISOString();
      const mark = await auditHead(t.db);
      const rid = requestId('range-tamper');
      await t.http
        .post('/api/v1/api-keys')
        .set(admin.auth)
        .set('X-Request-Id', rid)
        .send({ name: 'range-tamper' })
        .expect(201)
        .then((response) => remember(response.body.key));
      const target = (await entryOf(rid, 'api_key.create', mark)).id;
      const before = await rawRows(t.db, target, target);
      const [original] = await t.db.query<{ actor_ip: string | null }[]>(
        'SELECT actor_ip FROM audit_logs WHERE id = $1',
        [target],
      );
      await withAppendOnlyDisabled(t.db, async () => {
        try {
          await t.db.query(`UPDATE audit_logs SET actor_ip = '203.0.113.9' WHERE id = $1`, [
            target,
          ]);
          expect(await verifyChain(t.http, admin, { from })).toMatchObject({
            valid: false,
            firstBrokenId: target,
          });
        } finally {
          await t.db.query('UPDATE audit_logs SET actor_ip = $1 WHERE id = $2', [
            original!.actor_ip,
            target,
          ]);
        }
      });
      expect(await rawRows(t.db, target, target)).toEqual(before);
      expect(await verifyChain(t.http, admin, { from })).toMatchObject({ valid: true });
    });

    it('rejects malformed dates with a 400 problem', async () => {
      for (const query of [{ from: 'soon' }, { to: '2026-13-01T00:00:00Z' }, { extra: '1' }]) {
        const response = await t.http.get('/api/v1/audit/verify').set(admin.auth).query(query);
        expect({ query, status: response.status }).toEqual({ query, status: 400 });
      }
    });
  });

  describe('usage statistics (GET /stats/usage)', () => {
    let subject: CreatedUser;

    beforeAll(async () => {
      subject = await newUser();
    });

    it('reports zeros for a month without activity', async () => {
      const response = await t.http
        .get('/api/v1/stats/usage')
        .set(admin.auth)
        .query({ userId: subject.id, month: '1999-01' })
        .expect(200);
      expect(response.body).toEqual({
        userId: subject.id,
        month: '1999-01',
        filesUploaded: 0,
        bytesUploaded: 0,
        audioSeconds: 0,
        transcriptions: 0,
        jobsSucceeded: 0,
        jobsFailed: 0,
        turnsIngested: 0,
      });
    });

    it('counts 20 concurrent increments exactly (atomic upserts)', async () => {
      const usage = t.app.get(UsageService);
      const at = new Date(Date.UTC(2031, 4, 17, 12));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          usage.increment(subject.id, { filesUploaded: 1, bytesUploaded: 100 }, undefined, at),
        ),
      );
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          usage.increment(subject.id, { turnsIngested: i, audioSeconds: 0.5 }, undefined, at),
        ),
      );
      const response = await t.http
        .get('/api/v1/stats/usage')
        .set(admin.auth)
        .query({ userId: subject.id, month: '2031-05' })
        .expect(200);
      expect(response.body).toEqual({
        userId: subject.id,
        month: '2031-05',
        filesUploaded: 20,
        bytesUploaded: 2000,
        audioSeconds: 10,
        transcriptions: 0,
        jobsSucceeded: 0,
        jobsFailed: 0,
        turnsIngested: 190,
      });
      // The neighbouring months are untouched.
      for (const month of ['2031-04', '2031-06']) {
        const other = await t.http
          .get('/api/v1/stats/usage')
          .set(admin.auth)
          .query({ userId: subject.id, month })
          .expect(200);
        expect(other.body.filesUploaded).toBe(0);
      }
    });

    it('counts this month’s activity under the current month by default', async () => {
      const usage = t.app.get(UsageService);
      const month = new Date().toISOString().slice(0, 7);
      await usage.increment(subject.id, { transcriptions: 2, jobsSucceeded: 1, jobsFailed: 3 });
      const response = await t.http
        .get('/api/v1/stats/usage')
        .set(admin.auth)
        .query({ userId: subject.id, month })
        .expect(200);
      expect(response.body).toMatchObject({
        filesUploaded: 0,
        transcriptions: 2,
        jobsSucceeded: 1,
        jobsFailed: 3,
      });
    });

    it('rejects a malformed month or user id with a 400 problem', async () => {
      for (const query of [
        { userId: subject.id, month: '2026-13' },
        { userId: subject.id, month: '2026-1' },
        { userId: subject.id, month: '2026-00' },
        { userId: subject.id, month: '26-01' },
        { userId: subject.id, month: '2026-01-01' },
        { userId: subject.id },
        { userId: 'me', month: '2026-01' },
        { month: '2026-01', format: 'xml' },
        {},
      ]) {
        const response = await t.http.get('/api/v1/stats/usage').set(admin.auth).query(query);
        expect({ query, status: response.status }).toEqual({ query, status: 400 });
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });

    it('is for stats:read only', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      ourUserIds.add(worker.userId);
      remember(worker.accessToken, worker.refreshToken, worker.user.password);
      const query = { userId: worker.userId, month: '2026-01' };
      const refused = await t.http.get('/api/v1/stats/usage').set(worker.auth).query(query);
      expect(refused.status).toBe(403);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      await t.http.get('/api/v1/stats/usage').query(query).expect(401);

      const auditor = await userSession(t.http, admin, 'auditor');
      ourUserIds.add(auditor.userId);
      remember(auditor.accessToken, auditor.refreshToken, auditor.user.password);
      await t.http.get('/api/v1/stats/usage').set(auditor.auth).query(query).expect(200);
    });
  });

  describe('typed audit actions (issue 12)', () => {
    it('issue 12: activity_types holds exactly the declared actions once migrated and seeded', async () => {
      const rows = await t.db.query<{ code: string }[]>('SELECT code FROM activity_types');
      expect(rows.map((r) => r.code).sort()).toEqual([...AUDIT_ACTIONS].sort());
    });
  });

  describe('audit details never contain secrets', () => {
    it('holds no password, token, key or hash in any entry this file produced', async () => {
      const entries = await allAuditEntries(t.http, admin, { after: fileStart });
      const ours = entries.filter(
        (e) =>
          e.requestId?.startsWith(REQUEST_ID_PREFIX) ||
          (e.actorId !== null && ourUserIds.has(e.actorId)) ||
          (e.resourceId !== null && ourUserIds.has(e.resourceId)) ||
          e.actorId === admin.userId,
      );
      expect(ours.length).toBeGreaterThan(100);
      const checked = [...secrets].filter((s) => s.length >= 8);
      expect(checked.length).toBeGreaterThan(50);
      for (const entry of ours) {
        const text = JSON.stringify(entry);
        for (const secret of checked) {
          if (text.includes(secret)) {
            throw new Error(`audit entry ${entry.id} (${entry.action}) contains a secret`);
          }
        }
        // Refresh tokens are `<id>.<secret>`: the secret half alone must not appear either.
        expect(JSON.stringify(entry.details)).not.toMatch(/\$argon2|eyJ[\w-]+\.[\w-]+|vbk_/);
      }
      for (const secret of checked.filter((s) => /^[0-9a-f-]{36}\.[\w-]{43}$/.test(s))) {
        const half = secret.split('.')[1]!;
        for (const entry of ours) expect(JSON.stringify(entry)).not.toContain(half);
      }
    });
  });
});

describe('F8: audit entries written before sequence numbers existed (migration 1796000500000-2)', () => {
  const SEQ_MIGRATIONS = '1796000500000';
  const migrationsDir = join(__dirname, '..', '..', 'migrations');
  let url: string;
  let dropDatabase: () => Promise<void>;
  let db: DataSource;

  /** Inserts entries as the code before the seq migrations did: hash version 1, no seq. */
  async function appendOldStyle(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const [head] = await db.query<{ hash: string }[]>(
        'SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1',
      );
      const [{ id }] = (await db.query<{ id: string }[]>(
        `SELECT nextval('audit_logs_id_seq')::text AS id`,
      )) as [{ id: string }];
      const content: ChainedContent = {
        id,
        seq: 0,
        hashVersion: 1,
        occurredAt: new Date(),
        actorId: null,
        actorIp: '10.0.0.1',
        userAgent: 'before-seq',
        action: 'auth.login_failed',
        resourceType: null,
        resourceId: null,
        caseId: null,
        outcome: 'failure',
        details: { reason: 'unknown_login', attempt: i },
        requestId: null,
      };
      const prevHash = head?.hash ?? GENESIS_HASH;
      await db.query(
        `INSERT INTO audit_logs (id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                                 resource_id, case_id, outcome, details, request_id, prev_hash, hash)
         VALUES ($1, $2, NULL, $3, $4, $5, NULL, NULL, NULL, $6, $7, NULL, $8, $9)`,
        [
          id,
          content.occurredAt,
          content.actorIp,
          content.userAgent,
          content.action,
          content.outcome,
          JSON.stringify(content.details),
          prevHash,
          chainHash(prevHash, content),
        ],
      );
    }
  }

  async function walk(): Promise<ChainVerdict> {
    const repository = new AuditRepository(db);
    const span = await repository.chainSpan({});
    const walker = new ChainWalker(span!.start);
    await repository.walk(span!, (entry) => walker.next(entry));
    return walker.verdict;
  }

  beforeAll(async () => {
    const shared = new URL(process.env.DATABASE_URL!);
    const name = `${shared.pathname.slice(1)}_auditseq_${randomBytes(2).toString('hex')}`;
    const server = new URL(shared.toString());
    server.pathname = '/postgres';
    const admin = new Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    const target = new URL(shared.toString());
    target.pathname = `/${name}`;
    url = target.toString();
    dropDatabase = async () => {
      const client = new Client({ connectionString: server.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    };
    const earlier = readdirSync(migrationsDir)
      .filter((file) => /^\d+-\w+\.ts$/.test(file) && file < SEQ_MIGRATIONS)
      .map((file) => join(migrationsDir, file));
    const before = new DataSource({
      ...databaseOptions({ url, poolSize: 2 }),
      migrations: earlier,
    });
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    await before.destroy();
    db = new DataSource(databaseOptions({ url, poolSize: 2 }));
    await db.initialize();
    // The activity types alone: the seed audits through today's code, which writes seq.
    for (const [code, description] of Object.entries(ACTIVITY_TYPES)) {
      await db.query('INSERT INTO activity_types (code, description) VALUES ($1, $2)', [
        code,
        description,
      ]);
    }
    await appendOldStyle(4);
    await db.runMigrations({ transaction: 'each' });
  });
  afterAll(async () => {
    await db?.destroy();
    await dropDatabase?.();
  });

  it('numbers the old entries 1, 2, 3, … in chain order as hash version 1, and their chain stays valid', async () => {
    const rows = await db.query<{ seq: string; hash_version: number }[]>(
      'SELECT seq::text AS seq, hash_version FROM audit_logs ORDER BY id',
    );
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
    expect(rows.every((r) => r.hash_version === 1)).toBe(true);
    expect(await walk()).toEqual({ valid: true, checked: rows.length });
  });

  it('continues the sequence with hash version 2 entries, and verifies the mixed chain', async () => {
    const [{ n }] = (await db.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM audit_logs',
    )) as [{ n: number }];
    const repository = new AuditRepository(db);
    const appended = await db.transaction((manager) =>
      repository.appendMany(
        [0, 1].map((i) => ({
          occurredAt: new Date(),
          actorId: null,
          actorIp: null,
          userAgent: null,
          action: 'auth.login_failed' as const,
          resourceType: null,
          resourceId: null,
          caseId: null,
          outcome: 'failure' as const,
          details: { after: i },
          requestId: null,
        })),
        manager,
      ),
    );
    expect(appended.map((r) => [r.seq, r.hashVersion])).toEqual([
      [n + 1, 2],
      [n + 2, 2],
    ]);
    expect(await walk()).toEqual({ valid: true, checked: n + 2 });
  });

  it('names a deleted old entry by its seq gap, though its hash never covered seq', async () => {
    const [victim] = await db.query<{ id: string; seq: number }[]>(
      'SELECT id::text AS id, seq::float8 AS seq FROM audit_logs WHERE hash_version = 1 ORDER BY id DESC LIMIT 1 OFFSET 1',
    );
    await withAppendOnlyDisabled(db, () =>
      db.query('DELETE FROM audit_logs WHERE id = $1', [victim!.id]),
    );
    expect(await walk()).toMatchObject({
      valid: false,
      reason: 'seq_gap',
      expectedSeq: victim!.seq,
      foundSeq: victim!.seq + 1,
    });
  });
});
