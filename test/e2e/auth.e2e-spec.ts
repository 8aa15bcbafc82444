import { JwtService } from '@nestjs/jwt';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestClock } from '../../src/core/clock/clock';
import { AppConfig } from '../../src/core/config/app-config';
import {
  attemptLogin,
  createRole,
  createUser,
  expectProblem,
  login,
  loginAsAdmin,
  randomIp,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { ADMIN } from '../support/test-run';

/** The fields of a problem that must not differ between "no such user" and "wrong password". */
const sameAnswer = (body: { type: string; title: string; status: number; detail: string }) => ({
  type: body.type,
  title: body.title,
  status: body.status,
  detail: body.detail,
});

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

interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function encodePart(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The claims of an access token, read without verifying it. */
function claimsOf(token: string): Record<string, unknown> {
  return decodePart(token.split('.')[1]!);
}

describe('Identity and sessions (SPEC section 2, TARGETS S2)', () => {
  let t: TestApp;
  let admin: Session;
  let maxFailures: number;
  const jwt = new JwtService();
  const secret = (): string => process.env.JWT_SECRET!;
  /** The main app's clock: expiry tests advance it instead of sleeping. */
  const clock = new TestClock();
  const startMain = (): Promise<TestApp> => startApp({}, { clock });

  beforeAll(async () => {
    t = await startMain();
    admin = await loginAsAdmin(t.http);
    maxFailures = t.app.get(AppConfig).get('LOGIN_MAX_FAILURES');
  });
  // A test that moves time puts it back, so the sessions of the others stay valid.
  afterEach(() => clock.reset());
  afterAll(() => t.close());

  const me = (auth: Record<string, string>) => t.http.get('/api/v1/auth/me').set(auth);
  /** Audit entries of `action` about the user, by `details.reason`: one per password check. */
  const auditedReasons = async (
    action: string,
    userId: string,
  ): Promise<Record<string, number>> => {
    const rows = await t.db.query<{ reason: string | null; n: number }[]>(
      `SELECT details->>'reason' AS reason, count(*)::int AS n FROM audit_logs
        WHERE action = $1 AND resource_id = $2 GROUP BY 1`,
      [action, userId],
    );
    return Object.fromEntries(rows.map((row) => [row.reason ?? 'none', row.n]));
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const refresh = (refreshToken: string) =>
    t.http.post('/api/v1/auth/refresh').send({ refreshToken });

  describe('POST /auth/login', () => {
    it('logs in by username and returns a token pair and the user, without secrets', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const response = await attemptLogin(t.http, user.username, user.password);
      expect(response.status).toBe(200);
      const body = response.body as Record<string, unknown>;
      expect(body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: 900,
        user: expect.objectContaining({
          id: user.id,
          username: user.username,
          role: 'case_worker',
        }),
      });
      expect(Object.keys(body.user as object).sort()).toEqual(USER_FIELDS);
      expect((body.user as { lastLoginAt: string }).lastLoginAt).toMatch(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
      );
      expect(claimsOf(body.accessToken as string)).toMatchObject({
        sub: user.id,
        role: 'case_worker',
        tokenVersion: expect.any(Number),
      });
      await me(bearer(body.accessToken as string)).expect(200);
    });

    it('logs in by email, and matches username and email case-insensitively', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      for (const name of [user.email, user.email.toUpperCase(), user.username.toUpperCase()]) {
        const response = await attemptLogin(t.http, name, user.password);
        expect(response.status).toBe(200);
        expect((response.body as { user: { id: string } }).user.id).toBe(user.id);
      }
    });

    it('gives a wrong password, an unknown login and an inactive user the same 401 answer', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const inactive = await createUser(t.http, admin, 'case_worker');
      await t.http
        .patch(`/api/v1/users/${inactive.id}`)
        .set(admin.auth)
        .send({ isActive: false })
        .expect(200);

      const wrongPassword = expectProblem(
        await attemptLogin(t.http, user.username, 'not-the-password-at-all'),
        401,
      );
      const unknownUser = expectProblem(
        await attemptLogin(t.http, `nobody-${user.username}`, 'not-the-password-at-all'),
        401,
      );
      const inactiveUser = expectProblem(
        await attemptLogin(t.http, inactive.username, inactive.password),
        401,
      );
      expect(sameAnswer(unknownUser)).toEqual(sameAnswer(wrongPassword));
      expect(sameAnswer(inactiveUser)).toEqual(sameAnswer(wrongPassword));
      expect(wrongPassword.detail).not.toMatch(/exist|unknown|inactive|not found/i);
    });

    it('refuses a login body with unknown fields', async () => {
      const response = await t.http
        .post('/api/v1/auth/login')
        .send({ login: ADMIN.username, password: ADMIN.password, role: 'admin' })
        .expect(400);
      expect(expectProblem(response, 400).errors).toEqual([
        { field: 'role', message: expect.any(String) },
      ]);
    });
  });

  describe('login lockout', () => {
    it('locks an account after LOGIN_MAX_FAILURES failures: 429 with Retry-After, even with the right password', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      // A fresh address every attempt: the account, not the address, is what locks.
      for (let i = 0; i < maxFailures; i++) {
        expectProblem(await attemptLogin(t.http, user.username, `wrong-password-${i}`), 401);
      }
      const locked = await attemptLogin(t.http, user.username, user.password);
      expectProblem(locked, 429);
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      // The same account by its email is the same account.
      expectProblem(await attemptLogin(t.http, user.email.toUpperCase(), user.password), 429);
      // Other accounts are not affected.
      const other = await createUser(t.http, admin, 'case_worker');
      expect((await attemptLogin(t.http, other.username, other.password)).status).toBe(200);
    });

    it('cannot be bypassed by sending many guesses at once: at most LOGIN_MAX_FAILURES are evaluated', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const guesses = Array.from({ length: 4 * maxFailures }, (_, i) => `parallel-guess-${i}`);
      const responses = await Promise.all(
        guesses.map((guess) => attemptLogin(t.http, user.username, guess)),
      );
      const statuses = responses.map((r) => r.status);
      // Every answer is a refusal; only the first LOGIN_MAX_FAILURES were checked at all.
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(maxFailures);
      for (const locked of responses.filter((r) => r.status === 429)) {
        expect(locked.headers['retry-after']).toMatch(/^\d+$/);
      }
      expectProblem(await attemptLogin(t.http, user.username, user.password), 429);
    });

    it('issue 12: lets 20 concurrent correct logins of one account in, none counted or audited as a failure', async () => {
      const user = await createUser(t.http, admin, 'processor');
      // A fleet of clients behind one address sharing a service account.
      const ip = randomIp();
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => attemptLogin(t.http, user.username, user.password, ip)),
      );
      expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
      expect(await auditedReasons('auth.login_failed', user.id)).toEqual({});
      expect(await auditedReasons('auth.lockout', user.id)).toEqual({});
      // Nothing was counted: a full set of failures is still needed to lock the account.
      for (let i = 0; i < maxFailures - 1; i++) {
        expectProblem(await attemptLogin(t.http, user.username, `wrong-password-${i}`), 401);
      }
      expect((await attemptLogin(t.http, user.username, user.password)).status).toBe(200);
    });

    it('issue 12 (kept by the redesign): 30 concurrent wrong guesses get at most LOGIN_MAX_FAILURES password checks, the rest 429', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const ip = randomIp();
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          attemptLogin(t.http, user.username, `concurrent-guess-${i}`, ip),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(maxFailures);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30 - maxFailures);
      for (const refused of responses.filter((r) => r.status === 429)) {
        expectProblem(refused, 429);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      // Each password check leaves one entry: no more than the limit were made.
      const audited = await auditedReasons('auth.login_failed', user.id);
      expect(audited['wrong-password']).toBeLessThanOrEqual(maxFailures);
      expectProblem(await attemptLogin(t.http, user.username, user.password), 429);
    });

    it('locks an unknown login name the same way, so the lock does not reveal existence', async () => {
      const known = await createUser(t.http, admin, 'case_worker');
      const unknown = `ghost-${known.username}`;
      for (let i = 0; i < maxFailures; i++) {
        expectProblem(await attemptLogin(t.http, known.username, 'wrong-password-123'), 401);
        expectProblem(await attemptLogin(t.http, unknown, 'wrong-password-123'), 401);
      }
      const knownLocked = await attemptLogin(t.http, known.username, 'wrong-password-123');
      const unknownLocked = await attemptLogin(t.http, unknown, 'wrong-password-123');
      expect(sameAnswer(expectProblem(unknownLocked, 429))).toEqual(
        sameAnswer(expectProblem(knownLocked, 429)),
      );
      expect(unknownLocked.headers['retry-after']).toMatch(/^\d+$/);
      // Case does not give an unknown name a fresh counter either.
      expectProblem(await attemptLogin(t.http, unknown.toUpperCase(), 'x'), 429);
    });

    it('does not limit successful logins: a success before the limit resets the account count', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < maxFailures - 1; i++) {
          expectProblem(await attemptLogin(t.http, user.username, 'wrong-password-123'), 401);
        }
        expect((await attemptLogin(t.http, user.username, user.password)).status).toBe(200);
      }
    });

    it('locks an address after 4x LOGIN_MAX_FAILURES failures across accounts', async () => {
      const ip = randomIp();
      const user = await createUser(t.http, admin, 'case_worker');
      const ipLimit = 4 * maxFailures;
      // Each account fails once: no account lock, only the address count grows.
      for (let i = 0; i < ipLimit - 1; i++) {
        expectProblem(
          await attemptLogin(t.http, `spray-${i}-${user.username}`, 'Summer2024!', ip),
          401,
        );
      }
      // One failure short of the limit, a valid login from that address still works.
      expect((await attemptLogin(t.http, user.username, user.password, ip)).status).toBe(200);
      expectProblem(
        await attemptLogin(t.http, `spray-last-${user.username}`, 'Summer2024!', ip),
        401,
      );

      const locked = await attemptLogin(t.http, user.username, user.password, ip);
      expectProblem(locked, 429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The account itself is not locked: from another address it logs in.
      expect((await attemptLogin(t.http, user.username, user.password)).status).toBe(200);
    });

    // The lock window is a Redis TTL (PX), which follows Redis's time, not the application's
    // Clock: this is the one expiry the tests still wait for in real time.
    describe('with short limits (3-second lock after 3 failures)', () => {
      let short: TestApp;

      // Passport keeps strategies in a process-wide registry, so two live apps in one
      // test file would share (and, once one closes, lose) their authentication. The
      // dedicated app therefore runs alone, and the main app is started again after it.
      beforeAll(async () => {
        await t.close();
        short = await startApp({
          LOGIN_LOCK_MINUTES: '0.05',
          LOGIN_MAX_FAILURES: '3',
        });
      });
      afterAll(async () => {
        await short.close();
        t = await startMain();
        admin = await loginAsAdmin(t.http);
      });

      it('lets the account in again once the lock has expired', async () => {
        const user = await createUser(short.http, await loginAsAdmin(short.http), 'case_worker');
        for (let i = 0; i < 3; i++) {
          expectProblem(await attemptLogin(short.http, user.username, 'wrong-password-123'), 401);
        }
        const locked = await attemptLogin(short.http, user.username, user.password);
        expectProblem(locked, 429);
        const retryAfter = Number(locked.headers['retry-after']);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(3);
        expectProblem(await attemptLogin(short.http, user.username, user.password), 429);

        await sleep(retryAfter * 1000 + 300);
        const response = await attemptLogin(short.http, user.username, user.password);
        expect(response.status).toBe(200);
      });
    });
  });

  describe('access tokens (JWT)', () => {
    let session: Session;
    let claims: Record<string, unknown>;

    beforeAll(async () => {
      session = await userSession(t.http, admin, 'case_worker');
      claims = claimsOf(session.accessToken);
    });

    const expectUnauthenticated = async (token: string) => {
      const problem = expectProblem(await me(bearer(token)), 401);
      expect(problem.type).toMatch(/unauthenticated$/);
    };

    it('accepts a token carrying the real claims signed with the real key (control)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = jwt.sign(
        { ...claims, iat: now, exp: now + 60 },
        { secret: secret(), algorithm: 'HS256' },
      );
      const response = await me(bearer(token)).expect(200);
      expect(response.body.id).toBe(session.userId);
    });

    it('stops accepting a token once ACCESS_TOKEN_TTL_SECONDS have passed, by the application clock', async () => {
      const ttlMs = t.app.get(AppConfig).get('ACCESS_TOKEN_TTL_SECONDS') * 1000;
      const user = await createUser(t.http, admin, 'case_worker');
      const fresh = await login(t.http, user.username, user.password);
      await me(fresh.auth).expect(200);
      clock.advance(ttlMs - 5_000);
      await me(fresh.auth).expect(200);
      clock.advance(10_000);
      await expectUnauthenticated(fresh.accessToken);
      // A token issued at the clock's (moved) time lives a full lifetime from it.
      const before = Math.floor(clock.nowMs() / 1000);
      const later = await login(t.http, user.username, user.password);
      const issuedAt = claimsOf(later.accessToken).iat as number;
      expect(issuedAt).toBeGreaterThanOrEqual(before);
      expect(issuedAt).toBeLessThanOrEqual(Math.floor(clock.nowMs() / 1000));
      await me(later.auth).expect(200);
    });

    it('rejects a correctly signed token without an expiry (exp)', async () => {
      const withoutExp = { ...claims };
      delete withoutExp.exp;
      const token = jwt.sign(withoutExp, { secret: secret(), algorithm: 'HS256' });
      await expectUnauthenticated(token);
    });

    it('rejects an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = jwt.sign(
        { ...claims, iat: now - 3600, exp: now - 60 },
        { secret: secret(), algorithm: 'HS256' },
      );
      await expectUnauthenticated(token);
    });

    it('rejects a token whose payload was tampered with', async () => {
      const [header, payload, signature] = session.accessToken.split('.') as [
        string,
        string,
        string,
      ];
      const i = Math.floor(payload.length / 2);
      const flipped = payload[i] === 'A' ? 'B' : 'A';
      await expectUnauthenticated(
        `${header}.${payload.slice(0, i)}${flipped}${payload.slice(i + 1)}.${signature}`,
      );
    });

    it('rejects a token whose role claim was edited', async () => {
      const [header, , signature] = session.accessToken.split('.') as [string, string, string];
      await expectUnauthenticated(
        `${header}.${encodePart({ ...claims, role: 'admin' })}.${signature}`,
      );
    });

    it('rejects an unsigned token (alg: none)', async () => {
      const header = encodePart({ alg: 'none', typ: 'JWT' });
      const payload = encodePart({ ...claims, role: 'admin' });
      await expectUnauthenticated(`${header}.${payload}.`);
      await expectUnauthenticated(`${header}.${payload}`);
    });

    it('rejects a token signed with another key', async () => {
      const token = jwt.sign(claims, {
        secret: `another-secret-${'y'.repeat(40)}`,
        algorithm: 'HS256',
      });
      await expectUnauthenticated(token);
    });

    it('rejects a token that claims another algorithm (HS512) with the right key', async () => {
      const token = jwt.sign(claims, { secret: secret(), algorithm: 'HS512' });
      await expectUnauthenticated(token);
    });

    it('rejects garbage, an empty bearer and other schemes', async () => {
      await expectUnauthenticated('not-a-jwt');
      expectProblem(await me({ Authorization: 'Bearer ' }), 401);
      expectProblem(await me({ Authorization: `Basic ${session.accessToken}` }), 401);
    });

    it('takes the role from the user, not from the token: a re-signed role claim grants nothing', async () => {
      const token = jwt.sign(
        { ...claims, role: 'admin' },
        { secret: secret(), algorithm: 'HS256' },
      );
      const problem = expectProblem(await t.http.get('/api/v1/users').set(bearer(token)), 403);
      expect(problem.detail).toContain('users:manage');
      const whoAmI = await me(bearer(token)).expect(200);
      expect(whoAmI.body.role).toBe('case_worker');
    });
  });

  describe('access tokens with RS256 keys (JWT_ALGORITHM=RS256)', () => {
    const pem = () =>
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
    const keys = pem();
    let rs: TestApp;
    let session: Session;

    // One live app at a time: see the note on the short-limits app above.
    beforeAll(async () => {
      await t.close();
      rs = await startApp({
        JWT_ALGORITHM: 'RS256',
        JWT_PRIVATE_KEY: keys.privateKey,
        JWT_PUBLIC_KEY: keys.publicKey,
      });
      session = await loginAsAdmin(rs.http);
    });
    afterAll(async () => {
      await rs.close();
      t = await startMain();
      admin = await loginAsAdmin(t.http);
    });

    const rsMe = (token: string) => rs.http.get('/api/v1/auth/me').set(bearer(token));

    it('signs with the private key and verifies with the public key', async () => {
      expect(decodePart(session.accessToken.split('.')[0]!)).toMatchObject({ alg: 'RS256' });
      await rsMe(session.accessToken).expect(200);
    });

    it('rejects an HS256 token keyed with the public key (algorithm confusion)', async () => {
      const header = encodePart({ alg: 'HS256', typ: 'JWT' });
      const payload = session.accessToken.split('.')[1]!;
      const signature = createHmac('sha256', keys.publicKey)
        .update(`${header}.${payload}`)
        .digest('base64url');
      expectProblem(await rsMe(`${header}.${payload}.${signature}`), 401);
    });

    it('rejects a token signed with another private key, and an unsigned one', async () => {
      const claims = claimsOf(session.accessToken);
      const forged = jwt.sign(claims, { privateKey: pem().privateKey, algorithm: 'RS256' });
      expectProblem(await rsMe(forged), 401);
      const unsigned = `${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(claims)}.`;
      expectProblem(await rsMe(unsigned), 401);
    });
  });

  describe('POST /auth/refresh (rotation and stolen-token detection)', () => {
    it('rotates: returns a new pair that works and keeps the session', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const first = await login(t.http, user.username, user.password);
      const response = await refresh(first.refreshToken).expect(200);
      const next = response.body as { accessToken: string; refreshToken: string; user: object };
      expect(next.refreshToken).not.toBe(first.refreshToken);
      expect(Object.keys(next.user).sort()).toEqual(USER_FIELDS);
      expect(claimsOf(next.accessToken).sid).toBe(claimsOf(first.accessToken).sid);
      await me(bearer(next.accessToken)).expect(200);
      // Rotation alone does not end the session: the earlier access token still works.
      await me(first.auth).expect(200);
      await refresh(next.refreshToken).expect(200);
    });

    it('answers re-use of a rotated token with 401 and revokes the whole family', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const stolen = await login(t.http, user.username, user.password);
      const other = await login(t.http, user.username, user.password);
      const legit1 = (await refresh(stolen.refreshToken).expect(200)).body as TokenPair;
      const legit2 = (await refresh(legit1.refreshToken).expect(200)).body as TokenPair;

      const reuse = expectProblem(await refresh(stolen.refreshToken), 401);
      expect(reuse.type).toMatch(/refresh-token-reused$/);

      // The newest token of the family and every access token of the session are dead.
      expectProblem(await refresh(legit2.refreshToken), 401);
      expectProblem(await me(bearer(legit2.accessToken)), 401);
      expectProblem(await me(bearer(legit1.accessToken)), 401);
      expectProblem(await me(stolen.auth), 401);
      // Presenting the stolen token again stays refused.
      expectProblem(await refresh(stolen.refreshToken), 401);
      // Another session of the same user is a different family and lives on.
      await me(other.auth).expect(200);
      await refresh(other.refreshToken).expect(200);
    });

    it('lets at most one of several concurrent refreshes of the same token succeed', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const session = await login(t.http, user.username, user.password);
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => refresh(session.refreshToken)),
      );
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 401)).toBe(true);
    });

    it('refuses malformed, unknown and forged refresh tokens', async () => {
      const session = await loginAsAdmin(t.http);
      const [id] = session.refreshToken.split('.') as [string];
      expectProblem(await refresh('garbage'), 401);
      expectProblem(await refresh(`${id}.${'A'.repeat(43)}`), 401);
      expectProblem(await refresh(`00000000-0000-4000-8000-000000000000.${'A'.repeat(43)}`), 401);
      // Forging attempts do not count as re-use: the real token still rotates.
      await refresh(session.refreshToken).expect(200);
      expectProblem(
        await t.http
          .post('/api/v1/auth/refresh')
          .send({ refreshToken: session.refreshToken, userId: session.userId }),
        400,
      );
    });

    it('refuses a refresh token after its lifetime (REFRESH_TOKEN_TTL_DAYS), by the application clock', async () => {
      const ttlMs = t.app.get(AppConfig).get('REFRESH_TOKEN_TTL_DAYS') * 86_400_000;
      const user = await createUser(t.http, admin, 'case_worker');
      const session = await login(t.http, user.username, user.password);
      // A minute before its end the token still rotates, and the new one lives a full
      // lifetime from then (the rotation's time is the clock's too).
      clock.advance(ttlMs - 60_000);
      const rotated = (await refresh(session.refreshToken).expect(200)).body as TokenPair;
      clock.advance(ttlMs - 60_000);
      const last = (await refresh(rotated.refreshToken).expect(200)).body as TokenPair;
      clock.advance(ttlMs + 1_000);
      const problem = expectProblem(await refresh(last.refreshToken), 401);
      expect(problem.type).toMatch(/invalid-refresh-token$/);
    });
  });

  describe('POST /auth/logout', () => {
    it('revokes the session at once: its refresh token and access token stop working', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const session = await login(t.http, user.username, user.password);
      const other = await login(t.http, user.username, user.password);
      await t.http
        .post('/api/v1/auth/logout')
        .set(session.auth)
        .send({ refreshToken: session.refreshToken })
        .expect(204);
      expectProblem(await me(session.auth), 401);
      expectProblem(await refresh(session.refreshToken), 401);
      // Only that session ends.
      await me(other.auth).expect(200);
    });

    it('revokes the whole family, including tokens rotated before logout', async () => {
      const user = await createUser(t.http, admin, 'case_worker');
      const first = await login(t.http, user.username, user.password);
      const second = (await refresh(first.refreshToken).expect(200)).body as TokenPair;
      await t.http
        .post('/api/v1/auth/logout')
        .set(bearer(second.accessToken))
        .send({ refreshToken: second.refreshToken })
        .expect(204);
      expectProblem(await me(first.auth), 401);
      expectProblem(await me(bearer(second.accessToken)), 401);
      expectProblem(await refresh(second.refreshToken), 401);
    });

    it("cannot end someone else's session", async () => {
      const victim = await userSession(t.http, admin, 'case_worker');
      const attacker = await userSession(t.http, admin, 'case_worker');
      expectProblem(
        await t.http
          .post('/api/v1/auth/logout')
          .set(attacker.auth)
          .send({ refreshToken: victim.refreshToken }),
        401,
      );
      await me(victim.auth).expect(200);
      await refresh(victim.refreshToken).expect(200);
    });

    it('needs authentication', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      expectProblem(
        await t.http.post('/api/v1/auth/logout').send({ refreshToken: session.refreshToken }),
        401,
      );
      await refresh(session.refreshToken).expect(200);
    });
  });

  describe('GET /auth/me', () => {
    it('returns the caller with every catalogue permission for admin', async () => {
      const response = await me(admin.auth).expect(200);
      expect(response.body).toMatchObject({ username: ADMIN.username, role: 'admin' });
      const catalogue = await t.http.get('/api/v1/permissions').set(admin.auth).expect(200);
      expect([...response.body.permissions].sort()).toEqual(
        (catalogue.body.data as { name: string }[]).map((p) => p.name).sort(),
      );
      expect(response.body).not.toHaveProperty('passwordHash');
      expect(response.body).not.toHaveProperty('tokenVersion');
    });

    it('expands wildcards and includes permissions inherited from the parent role', async () => {
      const parent = await createRole(t.http, admin, ['audit:read', 'stats:read']);
      const child = await createRole(t.http, admin, ['users:*', 'cases:read'], parent.name);
      const session = await userSession(t.http, admin, child.name);
      const response = await me(session.auth).expect(200);
      expect(response.body.role).toBe(child.name);
      expect([...response.body.permissions].sort()).toEqual(
        ['audit:read', 'cases:read', 'stats:read', 'users:manage'].sort(),
      );
    });

    it('lists the built-in case_worker permissions with conversations:* expanded', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const response = await me(session.auth).expect(200);
      expect([...response.body.permissions].sort()).toEqual(
        [
          'analysis:read',
          'audio:archive',
          'audio:read',
          'audio:upload',
          'cases:read',
          'cases:write',
          'conversations:ingest',
          'conversations:read',
          'conversations:write',
          'transcriptions:read',
        ].sort(),
      );
    });
  });

  describe('POST /auth/password', () => {
    // A fresh address per call unless given: the address counts failures across accounts.
    const change = (session: Session, body: object, ip: string = randomIp()) =>
      t.http.post('/api/v1/auth/password').set(session.auth).set('X-Forwarded-For', ip).send(body);

    it('F3: wrong current passwords lock the account like failed logins: 429 with Retry-After, audited', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const newPassword = `new-${session.user.password}`;
      for (let i = 0; i < maxFailures; i++) {
        expectProblem(await change(session, { currentPassword: `not-it-${i}`, newPassword }), 403);
      }
      // Even the right current password is refused now, and so is a login: same secret.
      const locked = await change(session, { currentPassword: session.user.password, newPassword });
      expect(expectProblem(locked, 429).type).toMatch(/login-locked$/);
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expectProblem(await attemptLogin(t.http, session.user.username, session.user.password), 429);
      expect(await auditedReasons('auth.password_change', session.user.id)).toEqual({
        'wrong-current-password': maxFailures,
        locked: 1,
      });
      expect(await auditedReasons('auth.lockout', session.user.id)).toEqual({ none: 1 });
      // Nothing changed: the session still works.
      await me(session.auth).expect(200);
    });

    it('F3: 30 concurrent wrong current passwords get at most LOGIN_MAX_FAILURES checks', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const ip = randomIp();
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          change(session, { currentPassword: `guess-${i}`, newPassword: 'another-password-1' }, ip),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 403 || s === 429)).toBe(true);
      expect(statuses.filter((s) => s === 403).length).toBeLessThanOrEqual(maxFailures);
      const audited = await auditedReasons('auth.password_change', session.user.id);
      expect(audited['wrong-current-password']).toBeLessThanOrEqual(maxFailures);
    });

    it.each([
      ['twelve spaces', ' '.repeat(12)],
      ['eleven characters padded with spaces', '  abcdefghijk  '],
      ['too few different characters', 'abababababababab'],
    ])('refuses a new password of %s (policy: 12 characters besides spaces)', async (_, weak) => {
      const session = await userSession(t.http, admin, 'case_worker');
      const problem = expectProblem(
        await change(session, { currentPassword: session.user.password, newPassword: weak }),
        400,
      );
      expect(problem.errors).toEqual([
        { field: 'newPassword', message: expect.stringMatching(/12/) },
      ]);
      expect(
        (await attemptLogin(t.http, session.user.username, session.user.password)).status,
      ).toBe(200);
    });

    it('accepts a passphrase with spaces', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const newPassword = `correct horse battery ${session.user.username}`;
      await change(session, { currentPassword: session.user.password, newPassword }).expect(200);
      expect((await attemptLogin(t.http, session.user.username, newPassword)).status).toBe(200);
    });

    it('refuses a wrong current password with 403 and changes nothing', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const problem = expectProblem(
        await change(session, {
          currentPassword: 'definitely-not-it',
          newPassword: 'a-brand-new-password-1',
        }),
        403,
      );
      expect(problem.type).toMatch(/wrong-current-password$/);
      await me(session.auth).expect(200);
      expect(
        (await attemptLogin(t.http, session.user.username, session.user.password)).status,
      ).toBe(200);
    });

    it('enforces the password policy (at least 12 characters)', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const problem = expectProblem(
        await change(session, {
          currentPassword: session.user.password,
          newPassword: 'short-11ch',
        }),
        400,
      );
      expect(problem.errors).toEqual([
        { field: 'newPassword', message: expect.stringMatching(/12/) },
      ]);
      await me(session.auth).expect(200);
    });

    it('returns new tokens, ends every earlier session, and the new password logs in', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      const otherDevice = await login(t.http, session.user.username, session.user.password);
      const newPassword = `new-${session.user.password}`;

      const response = await change(session, {
        currentPassword: session.user.password,
        newPassword,
      }).expect(200);
      const fresh = response.body as { accessToken: string; refreshToken: string; user: object };
      expect(Object.keys(fresh.user).sort()).toEqual(USER_FIELDS);
      expect(JSON.stringify(response.body)).not.toContain(newPassword);

      await me(bearer(fresh.accessToken)).expect(200);
      await refresh(fresh.refreshToken).expect(200);

      expectProblem(await me(session.auth), 401);
      expectProblem(await refresh(session.refreshToken), 401);
      expectProblem(await me(otherDevice.auth), 401);
      expectProblem(await refresh(otherDevice.refreshToken), 401);

      expectProblem(await attemptLogin(t.http, session.user.username, session.user.password), 401);
      expect((await attemptLogin(t.http, session.user.username, newPassword)).status).toBe(200);
    });
  });

  describe('PATCH /auth/me e-mail (issue 11: must not reveal other accounts)', () => {
    const updateMe = (session: Session, body: object) =>
      t.http.patch('/api/v1/auth/me').set(session.auth).send(body);

    it('gives a taken and a free address the same 403 answer without users:manage, changing nothing', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      const other = await createUser(t.http, admin, 'case_worker');
      const taken = expectProblem(await updateMe(worker, { email: other.email }), 403);
      const free = expectProblem(
        await updateMe(worker, { email: `free-${worker.user.email}` }),
        403,
      );
      expect(sameAnswer(taken)).toEqual(sameAnswer(free));
      expect(taken.type).toMatch(/email-change-by-administrator$/);
      expect((await me(worker.auth).expect(200)).body.email).toBe(worker.user.email);
      // Restating one's own address (any case) and changing the name still work.
      await updateMe(worker, {
        email: worker.user.email.toUpperCase(),
        fullName: 'Same Me',
      }).expect(200);
    });

    it('lets a users:manage holder change it, and tells them when it is taken (409)', async () => {
      const manager = await userSession(t.http, admin, 'admin');
      const other = await createUser(t.http, admin, 'case_worker');
      expectProblem(await updateMe(manager, { email: other.email }), 409);
      const fresh = `moved-${manager.user.email}`;
      const response = await updateMe(manager, { email: fresh }).expect(200);
      expect(response.body.email).toBe(fresh);
    });
  });
});
