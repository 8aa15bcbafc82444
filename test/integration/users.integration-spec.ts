import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CORE_MODULES } from '../../src/app.module';
import { AuthErrorCode, AuthException } from '../../src/auth/auth.exception';
import { AuthModule } from '../../src/auth/auth.module';
import { PasswordHasher } from '../../src/auth/password-hasher';
import { UsersService } from '../../src/auth/users.service';
import { RequestContext } from '../../src/core/http/request-context';
import type { Actor } from '../../src/core/security/actor';
import { bootIntegration, Integration } from '../support/integration';

/**
 * User creation below HTTP: UsersService (the one place a user row is created) against
 * a real Postgres. The database is the spec's own, so "the first admin" can be tested
 * from a database that has none.
 */
describe('User creation (integration)', () => {
  let integration: Integration;
  let db: DataSource;
  let users: UsersService;
  let hasher: PasswordHasher;
  let admin: Actor;

  beforeAll(async () => {
    integration = await bootIntegration('users', { imports: [...CORE_MODULES, AuthModule] });
    db = integration.db;
    users = integration.moduleRef.get(UsersService);
    hasher = integration.moduleRef.get(PasswordHasher);
    const [seeded] = await db.query<{ id: string }[]>(
      `SELECT id FROM users WHERE role = 'admin' LIMIT 1`,
    );
    admin = {
      userId: seeded!.id,
      username: 'admin',
      role: 'admin',
      grants: ['*'],
      via: 'access-token',
    };
  });

  afterAll(() => integration?.close());

  const unique = (prefix = 'u'): string => `${prefix}${randomBytes(5).toString('hex')}`;

  const newUser = (overrides: Partial<Record<'username' | 'email' | 'role', string>> = {}) => {
    const username = overrides.username ?? unique();
    return {
      username,
      email: overrides.email ?? `${username}@example.test`,
      fullName: 'Integration User',
      password: `correct horse ${randomBytes(4).toString('hex')}`,
      role: overrides.role ?? 'case_worker',
    };
  };

  async function stored(
    username: string,
  ): Promise<{ id: string; email: string; role: string; password_hash: string }[]> {
    return db.query(
      'SELECT id, email, role, password_hash FROM users WHERE lower(username) = lower($1)',
      [username],
    );
  }

  async function auditOf(userId: string): Promise<
    {
      action: string;
      actor_id: string | null;
      request_id: string | null;
      details: Record<string, unknown>;
    }[]
  > {
    return db.query(
      `SELECT action, actor_id, request_id, details FROM audit_logs a
        WHERE resource_type = 'user' AND resource_id = $1 ORDER BY a.id`,
      [userId],
    );
  }

  const refusedAs = (code: AuthErrorCode) =>
    expect.objectContaining({ code }) as unknown as AuthException;

  describe('create', () => {
    it('stores the user with an argon2id hash of the password, never the password, and audits it under the caller', async () => {
      const dto = newUser();
      const requestId = unique('req-');
      const created = await RequestContext.run({ actor: admin, requestId }, () =>
        users.create(admin, dto),
      );
      const [row] = await stored(dto.username);
      expect(row).toMatchObject({ id: created.id, email: dto.email, role: 'case_worker' });
      expect(row!.password_hash).toMatch(/^\$argon2id\$/);
      expect(row!.password_hash).not.toContain(dto.password);
      expect(await hasher.verify(row!.password_hash, dto.password)).toBe(true);
      expect(await hasher.verify(row!.password_hash, `${dto.password}x`)).toBe(false);
      expect(await auditOf(created.id)).toEqual([
        {
          action: 'user.create',
          actor_id: admin.userId,
          request_id: requestId,
          details: { username: dto.username, role: 'case_worker' },
        },
      ]);
    });

    it('refuses a role the caller does not hold all of, or one that does not exist; nothing stored', async () => {
      const worker: Actor = {
        userId: admin.userId,
        username: 'worker',
        role: 'case_worker',
        grants: ['cases:read', 'users:manage'],
        via: 'access-token',
      };
      const beyond = newUser({ role: 'admin' });
      await expect(users.create(worker, beyond)).rejects.toEqual(
        refusedAs(AuthErrorCode.BeyondOwnPermissions),
      );
      const unknown = newUser({ role: 'no-such-role' });
      await expect(users.create(admin, unknown)).rejects.toEqual(
        refusedAs(AuthErrorCode.UnknownRole),
      );
      expect(await stored(beyond.username)).toEqual([]);
      expect(await stored(unknown.username)).toEqual([]);
    });
  });

  describe('duplicates', () => {
    it('refuses a username or an e-mail already taken, in any letter case; nothing stored or audited', async () => {
      const first = newUser();
      const created = await users.create(admin, first);
      const sameName = newUser({ username: first.username.toUpperCase() });
      const sameEmail = newUser({ email: first.email.toUpperCase() });
      for (const dto of [sameName, sameEmail]) {
        await expect(users.create(admin, dto)).rejects.toEqual(refusedAs(AuthErrorCode.UserExists));
      }
      expect(await stored(first.username)).toHaveLength(1);
      expect(await stored(sameEmail.username)).toEqual([]);
      expect(await auditOf(created.id)).toHaveLength(1);
    });

    it('of the same user created concurrently, exactly one is stored; the others are refused as existing', async () => {
      const dto = newUser();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => users.create(admin, dto)),
      );
      const created = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r) => r.status === 'rejected');
      expect(created).toHaveLength(1);
      for (const r of refused) expect(r.reason).toEqual(refusedAs(AuthErrorCode.UserExists));
      const rows = await stored(dto.username);
      expect(rows).toHaveLength(1);
      expect(await auditOf(rows[0]!.id)).toHaveLength(1);
    });
  });

  describe('createAdmin', () => {
    it('creates an administrator without an actor, audited with how it came', async () => {
      const username = unique('adm');
      const created = await users.createAdmin(
        { username, email: `${username}@example.test`, password: 'an admin password 1' },
        'cli',
      );
      const [row] = await stored(username);
      expect(row).toMatchObject({ id: created.id, role: 'admin' });
      expect(await hasher.verify(row!.password_hash, 'an admin password 1')).toBe(true);
      expect(await auditOf(created.id)).toEqual([
        {
          action: 'user.create',
          actor_id: null,
          request_id: null,
          details: { username, role: 'admin', via: 'cli' },
        },
      ]);
    });
  });

  describe('ensureFirstAdmin', () => {
    it('creates the first admin once (a generated password when none is given), then does nothing, even concurrently', async () => {
      // A database without an admin, as before the first start.
      await db.query(`UPDATE users SET role = 'supervisor' WHERE role = 'admin'`);
      const first = { username: unique('root'), email: `${unique('root')}@example.test` };
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () => users.ensureFirstAdmin(first)),
      );
      const created = outcomes.filter((o) => o.adminCreated);
      expect(created).toHaveLength(1);
      expect(outcomes.filter((o) => !o.adminCreated)).toEqual(
        Array.from({ length: 3 }, () => ({ adminCreated: false })),
      );
      const generated = created[0]!.generatedPassword!;
      expect(generated.length).toBeGreaterThanOrEqual(24);
      const admins = await db.query<{ username: string; password_hash: string }[]>(
        `SELECT username, password_hash FROM users WHERE role = 'admin'`,
      );
      expect(admins.map((a) => a.username)).toEqual([first.username]);
      expect(await hasher.verify(admins[0]!.password_hash, generated)).toBe(true);

      // Later starts: an admin exists, nothing happens, whatever the name.
      expect(await users.ensureFirstAdmin({ ...first, password: 'another password 1' })).toEqual({
        adminCreated: false,
      });
      expect(
        await users.ensureFirstAdmin({
          username: unique('other'),
          email: `${unique('other')}@example.test`,
        }),
      ).toEqual({ adminCreated: false });
      expect(await db.query(`SELECT 1 FROM users WHERE role = 'admin'`)).toHaveLength(1);
    });
  });
});
