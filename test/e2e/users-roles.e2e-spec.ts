import {
  attemptLogin,
  createApiKey,
  createRole,
  createUser,
  CreatedUser,
  expectProblem,
  HttpResponse,
  login,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  uniqueName,
  userSession,
} from '../support/app';

const USER_FIELDS = [
  'createdAt',
  'email',
  'fullName',
  'id',
  'isActive',
  'lastLoginAt',
  'role',
  'updatedAt',
  'username',
];

const SECRET_KEYS = ['password', 'passwordHash', 'password_hash', 'tokenVersion', 'token_version'];

/** Every key of a JSON document, at any depth. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
  }
  return [];
}

function expectNoSecrets(response: HttpResponse, ...secrets: string[]): void {
  const keys = keysOf(response.body);
  for (const key of SECRET_KEYS) expect(keys).not.toContain(key);
  expect(response.text).not.toMatch(/\$argon2/);
  for (const secret of secrets) expect(response.text).not.toContain(secret);
}

let counter = 0;
function newUserBody(role = 'case_worker'): {
  username: string;
  email: string;
  fullName: string;
  password: string;
  role: string;
} {
  counter += 1;
  const username = `ur${Date.now().toString(36)}${process.pid}x${counter}`;
  return {
    username,
    email: `${username}@example.test`,
    fullName: `User ${username}`,
    password: `password-for-${username}`,
    role,
  };
}

describe('Users, roles and permissions (SPEC section 2, TARGETS S3 and S5)', () => {
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
  });
  afterAll(() => t.close());

  const me = (auth: Record<string, string>) => t.http.get('/api/v1/auth/me').set(auth);

  describe('POST /users', () => {
    it('creates a user: 201 with Location and ETag, no secrets, password stored as argon2id', async () => {
      const body = newUserBody();
      const response = await t.http.post('/api/v1/users').set(admin.auth).send(body).expect(201);
      expect(response.body).toMatchObject({
        username: body.username,
        email: body.email,
        fullName: body.fullName,
        role: 'case_worker',
        isActive: true,
        lastLoginAt: null,
      });
      expect(Object.keys(response.body).sort()).toEqual(USER_FIELDS);
      expectNoSecrets(response, body.password);
      expect(response.headers.location).toBe(`/api/v1/users/${response.body.id}`);
      expect(response.headers.etag).toMatch(/^"\d+"$/);

      const read = await t.http.get(response.headers.location!).set(admin.auth).expect(200);
      expect(read.body).toEqual(response.body);
      expect(read.headers.etag).toBe(response.headers.etag);

      const [row] = await t.db.query<{ password_hash: string }[]>(
        'SELECT password_hash FROM users WHERE id = $1',
        [response.body.id],
      );
      expect(row!.password_hash).toMatch(/^\$argon2id\$/);
      expect(row!.password_hash).not.toContain(body.password);
      expect((await attemptLogin(t.http, body.username, body.password)).status).toBe(200);
    });

    it('refuses a username or email that exists in another case with 409', async () => {
      const existing = await createUser(t.http, admin, 'case_worker');
      const sameUsername = { ...newUserBody(), username: existing.username.toUpperCase() };
      const sameEmail = { ...newUserBody(), email: existing.email.toUpperCase() };
      for (const body of [sameUsername, sameEmail]) {
        const problem = expectProblem(
          await t.http.post('/api/v1/users').set(admin.auth).send(body),
          409,
        );
        expect(problem.type).toMatch(/user-exists$/);
      }
    });

    it('refuses an unknown role with 422', async () => {
      const body = newUserBody(uniqueName('no_such_role'));
      const problem = expectProblem(
        await t.http.post('/api/v1/users').set(admin.auth).send(body),
        422,
      );
      expect(problem.detail).toContain(body.role);
      expectProblem(await attemptLogin(t.http, body.username, body.password), 401);
    });

    it('enforces the password policy (at least 12 characters) with 400', async () => {
      const body = { ...newUserBody(), password: 'elevenchars' };
      const problem = expectProblem(
        await t.http.post('/api/v1/users').set(admin.auth).send(body),
        400,
      );
      expect(problem.errors).toEqual([{ field: 'password', message: expect.stringMatching(/12/) }]);
    });

    it('validates the other fields', async () => {
      const problem = expectProblem(
        await t.http
          .post('/api/v1/users')
          .set(admin.auth)
          .send({ ...newUserBody(), email: 'not-an-email', username: 'a b' }),
        400,
      );
      expect(problem.errors!.map((e) => e.field).sort()).toEqual(['email', 'username']);
    });
  });

  describe('GET /users (paginated list)', () => {
    it('pages with { data, meta: { page, limit, total } }', async () => {
      await createUser(t.http, admin, 'case_worker');
      await createUser(t.http, admin, 'case_worker');
      const first = await t.http.get('/api/v1/users?page=1&limit=2').set(admin.auth).expect(200);
      expect(first.body.data).toHaveLength(2);
      expect(first.body.meta).toEqual({ page: 1, limit: 2, total: expect.any(Number) });
      expect(first.body.meta.total).toBeGreaterThanOrEqual(3);
      for (const user of first.body.data) expect(Object.keys(user).sort()).toEqual(USER_FIELDS);
      expectNoSecrets(first);

      const second = await t.http.get('/api/v1/users?page=2&limit=2').set(admin.auth).expect(200);
      expect(second.body.meta).toMatchObject({ page: 2, limit: 2 });
      const firstIds = (first.body.data as { id: string }[]).map((u) => u.id);
      for (const user of second.body.data as { id: string }[]) {
        expect(firstIds).not.toContain(user.id);
      }

      const defaults = await t.http.get('/api/v1/users').set(admin.auth).expect(200);
      expect(defaults.body.meta).toMatchObject({ page: 1, limit: 20 });
    });

    it('caps the page size at 100 and rejects nonsense paging with 400', async () => {
      await t.http.get('/api/v1/users?limit=100').set(admin.auth).expect(200);
      for (const query of ['limit=101', 'limit=0', 'page=0', 'limit=abc', 'page=-1']) {
        const problem = expectProblem(
          await t.http.get(`/api/v1/users?${query}`).set(admin.auth),
          400,
        );
        expect(problem.errors![0]!.field).toBe(query.split('=')[0]);
      }
    });
  });

  describe('GET /users/:id', () => {
    it('lets every user read themselves, but nobody else without users:manage', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const other = await createUser(t.http, admin, 'case_worker');
      const self = await t.http.get(`/api/v1/users/${worker.userId}`).set(worker.auth).expect(200);
      expect(self.body.username).toBe(worker.user.username);
      expect(self.headers.etag).toMatch(/^"\d+"$/);
      expectNoSecrets(self, worker.user.password);

      const problem = expectProblem(
        await t.http.get(`/api/v1/users/${other.id}`).set(worker.auth),
        403,
      );
      expect(problem.detail).toContain('users:manage');
      // Forbidden whether or not the id exists: the answer does not probe existence.
      expectProblem(
        await t.http.get('/api/v1/users/00000000-0000-4000-8000-000000000000').set(worker.auth),
        403,
      );
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      expectProblem(
        await t.http.get('/api/v1/users/00000000-0000-4000-8000-000000000000').set(admin.auth),
        404,
      );
      const problem = expectProblem(
        await t.http.get('/api/v1/users/not-a-uuid').set(admin.auth),
        400,
      );
      expect(problem.errors).toEqual([{ field: 'id', message: expect.any(String) }]);
    });
  });

  describe('PATCH /users/:id (optimistic concurrency)', () => {
    it('answers a stale If-Match with 412 and changes nothing; a matching one with 200 and a new ETag', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const read = await t.http.get(`/api/v1/users/${user.id}`).set(admin.auth).expect(200);
      const etag = read.headers.etag!;

      const updated = await t.http
        .patch(`/api/v1/users/${user.id}`)
        .set(admin.auth)
        .set('If-Match', etag)
        .send({ fullName: 'First Change' })
        .expect(200);
      expect(updated.body.fullName).toBe('First Change');
      expect(updated.headers.etag).toMatch(/^"\d+"$/);
      expect(updated.headers.etag).not.toBe(etag);
      expectNoSecrets(updated);

      const stale = expectProblem(
        await t.http
          .patch(`/api/v1/users/${user.id}`)
          .set(admin.auth)
          .set('If-Match', etag)
          .send({ fullName: 'Lost Update' }),
        412,
      );
      expect(stale.title).toBe('Precondition Failed');
      const after = await t.http.get(`/api/v1/users/${user.id}`).set(admin.auth).expect(200);
      expect(after.body.fullName).toBe('First Change');
      expect(after.headers.etag).toBe(updated.headers.etag);

      expectProblem(
        await t.http
          .patch(`/api/v1/users/${user.id}`)
          .set(admin.auth)
          .set('If-Match', 'garbage')
          .send({ fullName: 'x' }),
        400,
      );
    });

    it('refuses an email another user has (case-insensitively) with 409', async () => {
      const a = await createUser(t.http, admin, 'case_worker');
      const b = await createUser(t.http, admin, 'case_worker');
      expectProblem(
        await t.http
          .patch(`/api/v1/users/${b.id}`)
          .set(admin.auth)
          .send({ email: a.email.toUpperCase() }),
        409,
      );
    });

    it('refuses an unknown role with 422', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      expectProblem(
        await t.http
          .patch(`/api/v1/users/${user.id}`)
          .set(admin.auth)
          .send({ role: uniqueName('missing') }),
        422,
      );
    });
  });

  describe('deactivating a user', () => {
    it('revokes their access token, refresh token and API key at once', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const key = await createApiKey(t.http, worker);
      await me(worker.auth).expect(200);
      await me(key.header).expect(200);

      const response = await t.http
        .patch(`/api/v1/users/${worker.userId}`)
        .set(admin.auth)
        .send({ isActive: false })
        .expect(200);
      expect(response.body.isActive).toBe(false);

      expectProblem(await me(worker.auth), 401);
      expectProblem(await me(key.header), 401);
      expectProblem(
        await t.http.post('/api/v1/auth/refresh').send({ refreshToken: worker.refreshToken }),
        401,
      );
      expectProblem(await attemptLogin(t.http, worker.user.username, worker.user.password), 401);

      // Reactivation lets the user log in again, but never revives the old access token.
      await t.http
        .patch(`/api/v1/users/${worker.userId}`)
        .set(admin.auth)
        .send({ isActive: true })
        .expect(200);
      expectProblem(await me(worker.auth), 401);
      const again = await login(t.http, worker.user.username, worker.user.password);
      await me(again.auth).expect(200);
    });

    it('is refused for oneself (409), as is changing one’s own role', async () => {
      for (const body of [{ isActive: false }, { role: 'case_worker' }]) {
        const problem = expectProblem(
          await t.http.patch(`/api/v1/users/${admin.userId}`).set(admin.auth).send(body),
          409,
        );
        expect(problem.type).toMatch(/cannot-change-self$/);
      }
      const self = await me(admin.auth).expect(200);
      expect(self.body).toMatchObject({ role: 'admin', isActive: true });
    });
  });

  describe('administrative password reset', () => {
    it('ends every session of the user; only the new password logs in', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const newPassword = `reset-${worker.user.password}`;
      const response = await t.http
        .patch(`/api/v1/users/${worker.userId}`)
        .set(admin.auth)
        .send({ password: newPassword })
        .expect(200);
      expectNoSecrets(response, newPassword);

      expectProblem(await me(worker.auth), 401);
      expectProblem(
        await t.http.post('/api/v1/auth/refresh').send({ refreshToken: worker.refreshToken }),
        401,
      );
      expectProblem(await attemptLogin(t.http, worker.user.username, worker.user.password), 401);
      expect((await attemptLogin(t.http, worker.user.username, newPassword)).status).toBe(200);
    });

    it('enforces the password policy', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      expectProblem(
        await t.http
          .patch(`/api/v1/users/${user.id}`)
          .set(admin.auth)
          .send({ password: 'short-one' }),
        400,
      );
    });
  });

  describe('changing a user’s role', () => {
    it('makes their older access tokens fail; a new login carries the new permissions', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      expectProblem(await t.http.get('/api/v1/audit').set(worker.auth), 403);

      await t.http
        .patch(`/api/v1/users/${worker.userId}`)
        .set(admin.auth)
        .send({ role: 'auditor' })
        .expect(200);

      expectProblem(await me(worker.auth), 401);
      const fresh = await login(t.http, worker.user.username, worker.user.password);
      const whoAmI = await me(fresh.auth).expect(200);
      expect(whoAmI.body.role).toBe('auditor');
      expect(whoAmI.body.permissions).toContain('audit:read');
      expect(whoAmI.body.permissions).not.toContain('cases:write');
      await t.http.get('/api/v1/audit').set(fresh.auth).expect(200);
    });
  });

  describe('unknown and forbidden fields (TARGETS S3)', () => {
    it.each([
      ['role', 'admin'],
      ['passwordHash', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo'],
      ['isActive', false],
      ['tokenVersion', 99],
      ['username', 'renamed-user'],
      ['id', '00000000-0000-4000-8000-000000000000'],
    ])('PATCH /auth/me with %s → 400 naming the field, nothing changed', async (field, value) => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const before = await me(worker.auth).expect(200);
      const problem = expectProblem(
        await t.http
          .patch('/api/v1/auth/me')
          .set(worker.auth)
          .send({ fullName: 'Sneaky', [field]: value }),
        400,
      );
      expect(problem.errors).toEqual([
        { field, message: expect.stringContaining('should not exist') },
      ]);
      // Same token (tokenVersion untouched), same role, state, name and password.
      const after = await me(worker.auth).expect(200);
      expect(after.body).toEqual(before.body);
      expect((await attemptLogin(t.http, worker.user.username, worker.user.password)).status).toBe(
        200,
      );
    });

    it('PATCH /auth/me accepts what users may change about themselves', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const response = await t.http
        .patch('/api/v1/auth/me')
        .set(worker.auth)
        .send({ fullName: 'Renamed Self' })
        .expect(200);
      expect(response.body.fullName).toBe('Renamed Self');
      expect(response.headers.etag).toMatch(/^"\d+"$/);
      expectNoSecrets(response);
      await me(worker.auth).expect(200);
    });

    it.each([
      ['passwordHash', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo'],
      ['id', '00000000-0000-4000-8000-000000000000'],
      ['tokenVersion', 0],
      ['isActive', true],
    ])('POST /users with %s → 400 naming the field, no user created', async (field, value) => {
      const body = newUserBody();
      const problem = expectProblem(
        await t.http
          .post('/api/v1/users')
          .set(admin.auth)
          .send({ ...body, [field]: value }),
        400,
      );
      expect(problem.errors).toEqual([
        { field, message: expect.stringContaining('should not exist') },
      ]);
      expectProblem(await attemptLogin(t.http, body.username, body.password), 401);
    });

    it.each([
      ['passwordHash', 'x'],
      ['tokenVersion', 0],
      ['username', 'renamed'],
      ['id', '00000000-0000-4000-8000-000000000000'],
    ])('PATCH /users/:id with %s → 400 naming the field', async (field, value) => {
      const user = await createUser(t.http, admin, 'case_worker');
      const problem = expectProblem(
        await t.http
          .patch(`/api/v1/users/${user.id}`)
          .set(admin.auth)
          .send({ [field]: value }),
        400,
      );
      expect(problem.errors).toEqual([
        { field, message: expect.stringContaining('should not exist') },
      ]);
    });

    it('never returns passwordHash, tokenVersion or a password on read', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const responses: HttpResponse[] = [
        await me(worker.auth),
        await t.http.get(`/api/v1/users/${worker.userId}`).set(worker.auth),
        await t.http.get(`/api/v1/users/${worker.userId}`).set(admin.auth),
        await t.http.get('/api/v1/users?limit=100').set(admin.auth),
        await attemptLogin(t.http, worker.user.username, worker.user.password),
      ];
      for (const response of responses) {
        expect(response.status).toBe(200);
        expectNoSecrets(response, worker.user.password);
      }
    });
  });

  describe('roles', () => {
    const roleIds = new Map<string, string>();

    beforeAll(async () => {
      const response = await t.http.get('/api/v1/roles?limit=100').set(admin.auth).expect(200);
      for (const role of response.body.data as { id: string; name: string }[]) {
        roleIds.set(role.name, role.id);
      }
    });

    it('lists the built-in roles with their permissions', async () => {
      const response = await t.http.get('/api/v1/roles?limit=100').set(admin.auth).expect(200);
      expect(response.body.meta).toMatchObject({ page: 1, limit: 100 });
      const byName = new Map(
        (response.body.data as { name: string; permissions: string[]; isBuiltIn: boolean }[]).map(
          (r) => [r.name, r],
        ),
      );
      for (const name of ['admin', 'supervisor', 'case_worker', 'processor', 'auditor']) {
        expect(byName.get(name)).toMatchObject({ isBuiltIn: true });
      }
      expect(byName.get('admin')!.permissions).toEqual(['*']);
    });

    it('creates a role with permissions and a parent: 201 with Location and ETag', async () => {
      const name = uniqueName('team_lead');
      const response = await t.http
        .post('/api/v1/roles')
        .set(admin.auth)
        .send({
          name,
          description: 'Leads a team',
          permissions: ['cases:read', 'audio:*'],
          parentRole: 'case_worker',
        })
        .expect(201);
      expect(response.body).toMatchObject({
        name,
        description: 'Leads a team',
        permissions: ['cases:read', 'audio:*'],
        parentRole: 'case_worker',
        isBuiltIn: false,
      });
      expect(response.headers.location).toBe(`/api/v1/roles/${response.body.id}`);
      expect(response.headers.etag).toMatch(/^"\d+"$/);
      const read = await t.http.get(response.headers.location!).set(admin.auth).expect(200);
      expect(read.body).toEqual(response.body);

      expectProblem(
        await t.http.post('/api/v1/roles').set(admin.auth).send({ name, permissions: [] }),
        409,
      );
    });

    it.each(['cases:fly', 'spaceships:*', 'audit:write'])(
      'refuses a well-formed permission outside the catalogue (%s) with 422',
      async (permission) => {
        const problem = expectProblem(
          await t.http
            .post('/api/v1/roles')
            .set(admin.auth)
            .send({ name: uniqueName('bad'), permissions: ['cases:read', permission] }),
          422,
        );
        expect(problem.type).toMatch(/invalid-permission$/);
        expect(problem.detail).toContain(permission);
      },
    );

    it.each(['Cases:Read', 'cases', 'cases:read:all', '', ' cases:read', '**', 'cases:'])(
      'refuses a malformed permission (%j) with 400',
      async (permission) => {
        const problem = expectProblem(
          await t.http
            .post('/api/v1/roles')
            .set(admin.auth)
            .send({ name: uniqueName('bad'), permissions: [permission] }),
          400,
        );
        expect(problem.errors![0]!.field).toBe('permissions');
      },
    );

    it('refuses malformed names, unknown parents and unknown fields', async () => {
      expectProblem(
        await t.http
          .post('/api/v1/roles')
          .set(admin.auth)
          .send({ name: 'Team Lead', permissions: [] }),
        400,
      );
      expectProblem(
        await t.http
          .post('/api/v1/roles')
          .set(admin.auth)
          .send({ name: uniqueName('orphan'), permissions: [], parentRole: uniqueName('nobody') }),
        422,
      );
      expectProblem(
        await t.http
          .post('/api/v1/roles')
          .set(admin.auth)
          .send({ name: uniqueName('r'), permissions: [], isBuiltIn: true }),
        400,
      );
    });

    it('rejects hierarchy cycles with 422: a→b then b→a, longer loops, and self-parent', async () => {
      const a = await createRole(t.http, admin, ['cases:read']);
      const b = await createRole(t.http, admin, ['audio:read'], a.name);
      const c = await createRole(t.http, admin, ['analysis:read'], b.name);
      const patch = (id: string, body: object) =>
        t.http.patch(`/api/v1/roles/${id}`).set(admin.auth).send(body);

      for (const [id, parentRole] of [
        [a.id, b.name],
        [a.id, c.name],
        [a.id, a.name],
        [c.id, c.name],
      ] as const) {
        const problem = expectProblem(await patch(id, { parentRole }), 422);
        expect(problem.type).toMatch(/role-cycle$/);
      }
      const unchanged = await t.http.get(`/api/v1/roles/${a.id}`).set(admin.auth).expect(200);
      expect(unchanged.body.parentRole).toBeNull();
      // Re-parenting without a loop is fine.
      await patch(c.id, { parentRole: a.name }).expect(200);
      await patch(c.id, { parentRole: null }).expect(200);
    });

    it('refuses to delete a built-in role (409)', async () => {
      for (const name of ['admin', 'supervisor', 'case_worker', 'processor', 'auditor']) {
        const problem = expectProblem(
          await t.http.delete(`/api/v1/roles/${roleIds.get(name)}`).set(admin.auth),
          409,
        );
        expect(problem.type).toMatch(/built-in-role$/);
      }
    });

    it('refuses to change the admin role (409)', async () => {
      for (const body of [{ permissions: ['cases:read'] }, { description: 'changed' }]) {
        expectProblem(
          await t.http
            .patch(`/api/v1/roles/${roleIds.get('admin')}`)
            .set(admin.auth)
            .send(body),
          409,
        );
      }
      const adminRole = await t.http
        .get(`/api/v1/roles/${roleIds.get('admin')}`)
        .set(admin.auth)
        .expect(200);
      expect(adminRole.body.permissions).toEqual(['*']);
    });

    it('refuses to delete a role held by a user or used as a parent (409)', async () => {
      const held = await createRole(t.http, admin, ['cases:read']);
      await createUser(t.http, admin, held.name);
      const parent = await createRole(t.http, admin, ['cases:read']);
      await createRole(t.http, admin, [], parent.name);
      for (const role of [held, parent]) {
        const problem = expectProblem(
          await t.http.delete(`/api/v1/roles/${role.id}`).set(admin.auth),
          409,
        );
        expect(problem.type).toMatch(/role-in-use$/);
        await t.http.get(`/api/v1/roles/${role.id}`).set(admin.auth).expect(200);
      }
    });

    it('deletes an unused custom role (204); it is then gone', async () => {
      const role = await createRole(t.http, admin, ['cases:read']);
      await t.http.delete(`/api/v1/roles/${role.id}`).set(admin.auth).expect(204);
      expectProblem(await t.http.get(`/api/v1/roles/${role.id}`).set(admin.auth), 404);
      expectProblem(await t.http.delete(`/api/v1/roles/${role.id}`).set(admin.auth), 404);
      expectProblem(
        await t.http.post('/api/v1/users').set(admin.auth).send(newUserBody(role.name)),
        422,
      );
    });

    it('applies a permission change to holders on their next request', async () => {
      const role = await createRole(t.http, admin, ['cases:read']);
      const holder = await userSession(t.http, admin, role.name);
      expectProblem(await t.http.get('/api/v1/audit').set(holder.auth), 403);

      const read = await t.http.get(`/api/v1/roles/${role.id}`).set(admin.auth).expect(200);
      const updated = await t.http
        .patch(`/api/v1/roles/${role.id}`)
        .set(admin.auth)
        .set('If-Match', read.headers.etag!)
        .send({ permissions: ['cases:read', 'audit:read'] })
        .expect(200);
      expect(updated.body.permissions).toEqual(['cases:read', 'audit:read']);
      expect(updated.headers.etag).not.toBe(read.headers.etag);

      // Same access token, no new login.
      await t.http.get('/api/v1/audit').set(holder.auth).expect(200);
      expect((await me(holder.auth).expect(200)).body.permissions).toContain('audit:read');

      // And taken away again just as fast.
      await t.http
        .patch(`/api/v1/roles/${role.id}`)
        .set(admin.auth)
        .send({ permissions: ['cases:read'] })
        .expect(200);
      expectProblem(await t.http.get('/api/v1/audit').set(holder.auth), 403);

      // A stale ETag loses.
      expectProblem(
        await t.http
          .patch(`/api/v1/roles/${role.id}`)
          .set(admin.auth)
          .set('If-Match', read.headers.etag!)
          .send({ permissions: ['*'] }),
        412,
      );
    });

    it('applies a parent’s permissions to holders of child roles', async () => {
      const parent = await createRole(t.http, admin, ['cases:read']);
      const child = await createRole(t.http, admin, [], parent.name);
      const holder = await userSession(t.http, admin, child.name);
      expectProblem(await t.http.get('/api/v1/stats/usage').set(holder.auth), 403);
      await t.http
        .patch(`/api/v1/roles/${parent.id}`)
        .set(admin.auth)
        .send({ permissions: ['cases:read', 'stats:read'] })
        .expect(200);
      await t.http
        .get(`/api/v1/stats/usage?userId=${holder.userId}&month=2026-01`)
        .set(holder.auth)
        .expect(200);
    });

    it('lets a wildcard resource grant (users:*) grant users:manage', async () => {
      const role = await createRole(t.http, admin, ['users:*']);
      const holder = await userSession(t.http, admin, role.name);
      await t.http.get('/api/v1/users').set(holder.auth).expect(200);
      expectProblem(await t.http.get('/api/v1/roles').set(holder.auth), 403);
    });
  });

  describe('no privilege escalation through users:manage or roles:manage', () => {
    // Like Kubernetes RBAC: a manager hands out, and manages, only what they hold themselves.
    it('a user manager cannot create or promote users beyond their own permissions', async () => {
      const managerRole = await createRole(t.http, admin, ['users:manage', 'cases:read']);
      const manager = await userSession(t.http, admin, managerRole.name);
      const small = await createRole(t.http, admin, ['cases:read']);

      for (const role of ['admin', 'case_worker', 'supervisor']) {
        const body = newUserBody(role);
        const problem = expectProblem(
          await t.http.post('/api/v1/users').set(manager.auth).send(body),
          403,
        );
        expect(problem.detail).toMatch(/permissions you do not hold/);
        expectProblem(await attemptLogin(t.http, body.username, body.password), 401);
      }
      const created = await t.http
        .post('/api/v1/users')
        .set(manager.auth)
        .send(newUserBody(small.name))
        .expect(201);

      expectProblem(
        await t.http
          .patch(`/api/v1/users/${created.body.id}`)
          .set(manager.auth)
          .send({ role: 'admin' }),
        403,
      );
      await t.http
        .patch(`/api/v1/users/${created.body.id}`)
        .set(manager.auth)
        .send({ fullName: 'Managed Fine' })
        .expect(200);
      const read = await t.http.get(`/api/v1/users/${created.body.id}`).set(admin.auth);
      expect(read.body).toMatchObject({ role: small.name, fullName: 'Managed Fine' });
    });

    it('a user manager cannot take over a more powerful account', async () => {
      const managerRole = await createRole(t.http, admin, ['users:manage']);
      const manager = await userSession(t.http, admin, managerRole.name);
      const victim = await userSession(t.http, admin, 'supervisor');
      for (const body of [
        { password: 'taken-over-password-1' },
        { isActive: false },
        { email: `owned-${victim.user.email}` },
      ]) {
        expectProblem(
          await t.http.patch(`/api/v1/users/${victim.userId}`).set(manager.auth).send(body),
          403,
        );
      }
      expectProblem(
        await t.http
          .patch(`/api/v1/users/${admin.userId}`)
          .set(manager.auth)
          .send({ password: 'taken-over-password-1' }),
        403,
      );
      await me(victim.auth).expect(200);
      expectProblem(await attemptLogin(t.http, victim.user.username, 'taken-over-password-1'), 401);
    });

    it('a role manager cannot grant, inherit or edit permissions beyond their own', async () => {
      const managerRole = await createRole(t.http, admin, ['roles:manage', 'cases:read']);
      const manager = await userSession(t.http, admin, managerRole.name);
      const create = (body: object) =>
        t.http
          .post('/api/v1/roles')
          .set(manager.auth)
          .send({ name: uniqueName('esc'), ...body });

      expectProblem(await create({ permissions: ['*'] }), 403);
      expectProblem(await create({ permissions: ['users:*'] }), 403);
      expectProblem(await create({ permissions: [], parentRole: 'admin' }), 403);
      await create({ permissions: ['cases:read'] }).expect(201);

      // Not their own role, and not a more powerful one.
      expectProblem(
        await t.http
          .patch(`/api/v1/roles/${managerRole.id}`)
          .set(manager.auth)
          .send({ permissions: ['roles:manage', 'cases:read', 'users:manage'] }),
        403,
      );
      expectProblem(
        await t.http
          .patch(`/api/v1/roles/${managerRole.id}`)
          .set(manager.auth)
          .send({ parentRole: 'supervisor' }),
        403,
      );
      const roles = await t.http.get('/api/v1/roles?limit=100').set(admin.auth).expect(200);
      const supervisor = (roles.body.data as { id: string; name: string }[]).find(
        (r) => r.name === 'supervisor',
      )!;
      expectProblem(
        await t.http
          .patch(`/api/v1/roles/${supervisor.id}`)
          .set(manager.auth)
          .send({ permissions: ['cases:read'] }),
        403,
      );
      const after = await me(manager.auth).expect(200);
      expect([...after.body.permissions].sort()).toEqual(['cases:read', 'roles:manage']);
    });
  });

  describe('function-level authorization: admin routes refuse other roles (TARGETS S5)', () => {
    type Permission = 'users:manage' | 'roles:manage' | 'audit:read' | 'stats:read';
    interface Route {
      name: string;
      needs: Permission;
      call(auth: Record<string, string>): Promise<HttpResponse>;
    }

    /** What each built-in role grants of the administrative permissions (SPEC table). */
    const GRANTS: Record<string, Permission[]> = {
      case_worker: [],
      processor: [],
      auditor: ['audit:read', 'stats:read'],
      supervisor: ['audit:read', 'stats:read'],
    };

    let target: CreatedUser;
    let customRole: { id: string; name: string };
    const sessions = new Map<string, Record<string, string>>();

    beforeAll(async () => {
      target = await createUser(t.http, admin, 'case_worker');
      customRole = await createRole(t.http, admin, ['cases:read']);
      for (const role of Object.keys(GRANTS)) {
        sessions.set(role, (await userSession(t.http, admin, role)).auth);
      }
      const machine = await userSession(t.http, admin, 'processor');
      sessions.set('processor (API key)', (await createApiKey(t.http, machine)).header);
    });

    const send = (
      request: { set(h: Record<string, string>): unknown },
      auth: Record<string, string>,
    ) => request.set(auth) as Promise<HttpResponse>;

    const ROUTES: Route[] = [
      {
        name: 'GET /users',
        needs: 'users:manage',
        call: (a) => send(t.http.get('/api/v1/users'), a),
      },
      {
        name: 'POST /users',
        needs: 'users:manage',
        call: (a) => send(t.http.post('/api/v1/users').send(newUserBody('admin')), a),
      },
      {
        name: 'GET /users/:id (another user)',
        needs: 'users:manage',
        call: (a) => send(t.http.get(`/api/v1/users/${target.id}`), a),
      },
      {
        name: 'PATCH /users/:id (another user)',
        needs: 'users:manage',
        call: (a) => send(t.http.patch(`/api/v1/users/${target.id}`).send({ role: 'admin' }), a),
      },
      {
        name: 'GET /roles',
        needs: 'roles:manage',
        call: (a) => send(t.http.get('/api/v1/roles'), a),
      },
      {
        name: 'POST /roles',
        needs: 'roles:manage',
        call: (a) =>
          send(t.http.post('/api/v1/roles').send({ name: uniqueName('x'), permissions: ['*'] }), a),
      },
      {
        name: 'GET /roles/:id',
        needs: 'roles:manage',
        call: (a) => send(t.http.get(`/api/v1/roles/${customRole.id}`), a),
      },
      {
        name: 'PATCH /roles/:id',
        needs: 'roles:manage',
        call: (a) =>
          send(t.http.patch(`/api/v1/roles/${customRole.id}`).send({ permissions: ['*'] }), a),
      },
      {
        name: 'DELETE /roles/:id',
        needs: 'roles:manage',
        call: (a) => send(t.http.delete(`/api/v1/roles/${customRole.id}`), a),
      },
      {
        name: 'GET /audit',
        needs: 'audit:read',
        call: (a) => send(t.http.get('/api/v1/audit'), a),
      },
      {
        name: 'GET /audit/verify',
        needs: 'audit:read',
        call: (a) => send(t.http.get('/api/v1/audit/verify'), a),
      },
      {
        name: 'GET /stats/usage',
        needs: 'stats:read',
        call: (a) => send(t.http.get(`/api/v1/stats/usage?userId=${target.id}&month=2026-01`), a),
      },
    ];

    const CALLERS = ['case_worker', 'processor', 'processor (API key)', 'auditor', 'supervisor'];

    describe.each(CALLERS)('as %s', (caller) => {
      const granted = GRANTS[caller.split(' ')[0]!]!;

      it.each(ROUTES.filter((r) => !granted.includes(r.needs)).map((r) => [r.name, r] as const))(
        '%s → 403 problem+json',
        async (_, route) => {
          const problem = expectProblem(await route.call(sessions.get(caller)!), 403);
          expect(problem.type).toMatch(/missing-permission$/);
          expect(problem.detail).toContain(route.needs);
        },
      );

      const allowed = ROUTES.filter((r) => granted.includes(r.needs));
      if (allowed.length > 0) {
        it.each(allowed.map((r) => [r.name, r] as const))('%s → 200', async (_, route) => {
          expect((await route.call(sessions.get(caller)!)).status).toBe(200);
        });
      }
    });

    it('left the target user and the custom role untouched', async () => {
      const user = await t.http.get(`/api/v1/users/${target.id}`).set(admin.auth).expect(200);
      expect(user.body.role).toBe('case_worker');
      const role = await t.http.get(`/api/v1/roles/${customRole.id}`).set(admin.auth).expect(200);
      expect(role.body.permissions).toEqual(['cases:read']);
    });
  });
});
