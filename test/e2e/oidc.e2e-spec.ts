import { randomBytes } from 'node:crypto';
import {
  attemptLogin,
  createUser,
  expectProblem,
  HttpResponse,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
} from '../support/app';
import * as jose from 'jose';
import { FakeOidcIssuer, IdTokenParts } from '../support/fake-oidc-issuer';
import { startOidcProvider, TestOidcProvider } from '../support/oidc-provider';
import { ADMIN } from '../support/test-run';

interface TokenBody {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: { id: string; username: string; email: string; role: string };
}

const ROLE_MAP = { 'verbatim-supervisors': 'supervisor', 'verbatim-staff': 'case_worker' };

const unique = (): string => randomBytes(5).toString('hex');

/** The flow cookie the login redirect set, as a Cookie header value. */
function flowCookie(response: HttpResponse): string {
  const header = response.headers['set-cookie'] as unknown as string[] | string;
  const cookie = (Array.isArray(header) ? header : [header]).find((c) =>
    c.startsWith('verbatim_oidc='),
  );
  if (!cookie) throw new Error('no flow cookie');
  return cookie.split(';')[0]!;
}

describe('OIDC single sign-on (SPEC section 13, TARGETS S11)', () => {
  let provider: TestOidcProvider;
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    provider = await startOidcProvider();
    t = await startApp({ ...provider.env, OIDC_ROLE_MAP: JSON.stringify(ROLE_MAP) });
    admin = await loginAsAdmin(t.http);
  });

  afterAll(async () => {
    await t?.close();
    await provider?.stop();
  });

  /** Login redirect, the provider's sign-in as `sub`, and the callback with the flow cookie. */
  async function signIn(
    sub: string,
    app: TestApp = t,
  ): Promise<{ response: HttpResponse; callbackPath: string; cookie: string }> {
    const start = await app.http.get('/api/v1/auth/oidc/login').expect(302);
    const cookie = flowCookie(start);
    const back = await provider.authorize(start.headers.location!, sub);
    const callbackPath = `/api/v1/auth/oidc/callback${back.search}`;
    const response = await app.http.get(callbackPath).set('Cookie', cookie);
    return { response, callbackPath, cookie };
  }

  async function auditOf(action: string, userId: string): Promise<Record<string, unknown>[]> {
    const rows = await t.db.query<{ details: Record<string, unknown> }[]>(
      `SELECT details FROM audit_logs WHERE action = $1 AND resource_id = $2 ORDER BY seq`,
      [action, userId],
    );
    return rows.map((row) => row.details);
  }

  describe('GET /auth/oidc/login', () => {
    it('redirects to the provider with the code flow, state, nonce and PKCE S256', async () => {
      const response = await t.http.get('/api/v1/auth/oidc/login').expect(302);
      const location = new URL(response.headers.location!);
      expect(location.origin).toBe(provider.issuer);
      const params = Object.fromEntries(location.searchParams);
      expect(params).toMatchObject({
        response_type: 'code',
        client_id: provider.clientId,
        redirect_uri: provider.redirectUri,
        code_challenge_method: 'S256',
        scope: 'openid email profile groups',
      });
      expect(params.state).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      expect(params.nonce).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      expect(params.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // The verifier and nonce stay on the server; the browser carries only the state.
      expect(flowCookie(response)).toBe(`verbatim_oidc=${params.state}`);
      expect(response.headers['set-cookie']!.toString()).toMatch(/HttpOnly; SameSite=Lax/);
    });

    it('gives a script that asks for JSON the URL instead of a redirect', async () => {
      const response = await t.http
        .get('/api/v1/auth/oidc/login')
        .set('Accept', 'application/json')
        .expect(200);
      const url = new URL((response.body as { authorizationUrl: string }).authorizationUrl);
      expect(url.origin).toBe(provider.issuer);
      expect(flowCookie(response)).toBe(`verbatim_oidc=${url.searchParams.get('state')}`);
    });
  });

  describe('GET /auth/oidc/callback: first sign-in', () => {
    it('creates a user with the mapped role and answers like /auth/login', async () => {
      const sub = `new-${unique()}`;
      const email = `${sub}@example.test`;
      await provider.setAccount(sub, {
        email,
        email_verified: true,
        name: 'Nia Newcomer',
        preferred_username: sub,
        groups: ['other', 'verbatim-staff'],
      });
      const { response } = await signIn(sub);
      expect(response.status).toBe(200);
      const body = response.body as TokenBody;
      expect(body).toMatchObject({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: expect.any(Number),
        user: { username: sub, email, role: 'case_worker' },
      });
      const me = await t.http
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${body.accessToken}`)
        .expect(200);
      expect(me.body).toMatchObject({ id: body.user.id, fullName: 'Nia Newcomer' });
      // The same refresh rotation as a password session.
      await t.http
        .post('/api/v1/auth/refresh')
        .send({ refreshToken: body.refreshToken })
        .expect(200);

      const [identity] = await t.db.query<{ issuer: string; linked_by: string }[]>(
        `SELECT issuer, linked_by FROM user_identities WHERE subject = $1`,
        [sub],
      );
      expect(identity).toEqual({ issuer: provider.issuer, linked_by: 'created' });
      expect(await auditOf('user.create', body.user.id)).toEqual([
        expect.objectContaining({ via: 'oidc', role: 'case_worker' }),
      ]);
      expect(await auditOf('auth.login', body.user.id)).toEqual([
        { method: 'oidc', issuer: provider.issuer },
      ]);
    });

    it('finds the user by issuer and subject on the next sign-in, whatever the e-mail says', async () => {
      const sub = `again-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const first = (await signIn(sub)).response.body as TokenBody;
      await provider.setAccount(sub, {
        email: `renamed-${sub}@example.test`,
        email_verified: false,
        groups: ['verbatim-staff'],
      });
      const second = await signIn(sub);
      expect(second.response.status).toBe(200);
      expect((second.response.body as TokenBody).user.id).toBe(first.user.id);
    });

    it('links an existing local account through a verified e-mail', async () => {
      const local = await createUser(t.http, admin, 'case_worker');
      const sub = `link-${unique()}`;
      await provider.setAccount(sub, {
        email: local.email.toUpperCase(),
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const { response } = await signIn(sub);
      expect(response.status).toBe(200);
      expect((response.body as TokenBody).user).toMatchObject({
        id: local.id,
        username: local.username,
      });
      expect(await auditOf('auth.oidc_link', local.id)).toEqual([{ issuer: provider.issuer }]);
      // The local password still works: linking adds a way in, it takes none away.
      const password = await attemptLogin(t.http, local.username, local.password);
      expect(password.status).toBe(200);
    });

    it('does not link an account through an unverified e-mail', async () => {
      const local = await createUser(t.http, admin, 'case_worker');
      const sub = `unverified-${unique()}`;
      await provider.setAccount(sub, {
        email: local.email,
        email_verified: false,
        groups: ['verbatim-staff'],
      });
      const { response } = await signIn(sub);
      expect(expectProblem(response, 409).type).toMatch(/oidc-email-not-verified$/);
      const identities = await t.db.query(`SELECT 1 FROM user_identities WHERE subject = $1`, [
        sub,
      ]);
      expect(identities).toHaveLength(0);
      const [failure] = await t.db.query<{ details: Record<string, unknown> }[]>(
        `SELECT details FROM audit_logs WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`,
      );
      expect(failure!.details).toMatchObject({ method: 'oidc', reason: 'email-not-verified' });
    });

    it('never links the seeded admin (the break-glass account stays local)', async () => {
      const sub = `admin-${unique()}`;
      await provider.setAccount(sub, {
        email: ADMIN.email,
        email_verified: true,
        groups: ['verbatim-supervisors'],
      });
      const { response } = await signIn(sub);
      expect(expectProblem(response, 409).type).toMatch(/oidc-account-not-linkable$/);
    });

    it('refuses a new user in no mapped group when no default role is set', async () => {
      const sub = `nogroup-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['unrelated'],
      });
      const { response } = await signIn(sub);
      expect(expectProblem(response, 403).type).toMatch(/oidc-no-role$/);
      const users = await t.db.query(`SELECT 1 FROM users WHERE email = $1`, [
        `${sub}@example.test`,
      ]);
      expect(users).toHaveLength(0);
    });
  });

  describe('role mapping at every sign-in', () => {
    it("applies the provider's groups again: a role change, and older tokens end", async () => {
      const sub = `mapped-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const first = (await signIn(sub)).response.body as TokenBody;
      expect(first.user.role).toBe('case_worker');

      // The first matching map entry wins, whatever the order of the groups.
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff', 'verbatim-supervisors'],
      });
      const second = (await signIn(sub)).response.body as TokenBody;
      expect(second.user).toMatchObject({ id: first.user.id, role: 'supervisor' });
      await t.http
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${first.accessToken}`)
        .expect(401);
      const me = await t.http
        .get('/api/v1/auth/me')
        .set('Authorization', `Bearer ${second.accessToken}`)
        .expect(200);
      expect(me.body).toMatchObject({ role: 'supervisor' });
      expect(await auditOf('user.update', first.user.id)).toEqual([
        { fields: ['role'], from: 'case_worker', to: 'supervisor', via: 'oidc' },
      ]);

      // Out of every mapped group: refused, even though the account exists.
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: [],
      });
      expect(expectProblem((await signIn(sub)).response, 403).type).toMatch(/oidc-no-role$/);
    });

    it('refuses a deactivated account', async () => {
      const sub = `inactive-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const first = (await signIn(sub)).response.body as TokenBody;
      await t.http
        .patch(`/api/v1/users/${first.user.id}`)
        .set(admin.auth)
        .send({ isActive: false })
        .expect(200);
      expect(expectProblem((await signIn(sub)).response, 403).type).toMatch(/account-inactive$/);
    });
  });

  describe('state', () => {
    it('answers once: a replayed callback is refused', async () => {
      const sub = `replay-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const { response, callbackPath, cookie } = await signIn(sub);
      expect(response.status).toBe(200);
      const replay = await t.http.get(callbackPath).set('Cookie', cookie);
      expect(expectProblem(replay, 401).type).toMatch(/oidc-invalid-state$/);
      expect(replay.body).not.toHaveProperty('accessToken');
    });

    it('is bound to the browser that started the sign-in', async () => {
      const sub = `csrf-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const start = await t.http.get('/api/v1/auth/oidc/login').expect(302);
      const back = await provider.authorize(start.headers.location!, sub);
      const path = `/api/v1/auth/oidc/callback${back.search}`;
      // Another browser (no cookie, or the cookie of its own sign-in) cannot use it.
      expectProblem(await t.http.get(path), 401);
      const other = flowCookie(await t.http.get('/api/v1/auth/oidc/login').expect(302));
      expectProblem(await t.http.get(path).set('Cookie', other), 401);
      // Nor can a made-up state.
      expectProblem(
        await t.http
          .get('/api/v1/auth/oidc/callback?code=x&state=madeup')
          .set('Cookie', 'verbatim_oidc=madeup'),
        401,
      );
      // The browser that started it still can (a refused attempt did not consume it).
      const ok = await t.http.get(path).set('Cookie', flowCookie(start));
      expect(ok.status).toBe(200);
    });
  });

  describe('PASSWORD_LOGIN=false', () => {
    let closed: TestApp;

    beforeAll(async () => {
      closed = await startApp({
        ...provider.env,
        OIDC_ROLE_MAP: JSON.stringify(ROLE_MAP),
        PASSWORD_LOGIN: 'false',
      });
    });

    afterAll(async () => {
      await closed?.close();
    });

    it('refuses password login for everyone but the seeded admin, and single sign-on works', async () => {
      const local = await createUser(t.http, admin, 'case_worker');
      const refused = await attemptLogin(closed.http, local.username, local.password);
      expect(expectProblem(refused, 403).type).toMatch(/password-login-disabled$/);
      // By e-mail too, and for names nobody has: the same answer.
      const answer = (response: HttpResponse) => {
        const { type, title, status, detail } = response.body as Record<string, unknown>;
        return { type, title, status, detail, code: response.status };
      };
      const byEmail = await attemptLogin(closed.http, local.email, local.password);
      const nobody = await attemptLogin(closed.http, `nobody-${unique()}`, 'whatever-password');
      expect(answer(byEmail)).toEqual(answer(refused));
      expect(answer(nobody)).toEqual(answer(refused));

      const adminLogin = await attemptLogin(closed.http, ADMIN.username, ADMIN.password);
      expect(adminLogin.status).toBe(200);

      const sub = `closed-${unique()}`;
      await provider.setAccount(sub, {
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ['verbatim-staff'],
      });
      const { response } = await signIn(sub, closed);
      expect(response.status).toBe(200);
    });
  });

  describe('ID tokens a provider must not be trusted with (S11)', () => {
    let fake: FakeOidcIssuer;
    let f: TestApp;

    beforeAll(async () => {
      fake = await new FakeOidcIssuer().start();
      f = await startApp({ ...fake.env, OIDC_ROLE_MAP: JSON.stringify(ROLE_MAP) });
    });

    afterAll(async () => {
      await f?.close();
      await fake?.stop();
    });

    /** A sign-in at the app whose token endpoint answers with the ID token `mint` makes. */
    async function callbackWith(
      mint: (authorizationUrl: URL, sub: string) => IdTokenParts,
    ): Promise<{ response: HttpResponse; sub: string }> {
      const sub = `fake-${unique()}`;
      const start = await f.http.get('/api/v1/auth/oidc/login').expect(302);
      const authorizationUrl = new URL(start.headers.location!);
      const query = await fake.authorize(authorizationUrl, mint(authorizationUrl, sub));
      const response = await f.http
        .get(`/api/v1/auth/oidc/callback${query}`)
        .set('Cookie', flowCookie(start));
      return { response, sub };
    }

    const person = (sub: string) => ({
      sub,
      email: `${sub}@example.test`,
      email_verified: true,
      groups: ['verbatim-staff'],
    });

    async function expectRefused(
      mint: (authorizationUrl: URL, sub: string) => IdTokenParts,
      reason: RegExp,
    ): Promise<void> {
      const { response, sub } = await callbackWith(mint);
      expect(expectProblem(response, 401).type).toMatch(/oidc-failed$/);
      expect(response.body).not.toHaveProperty('accessToken');
      const users = await f.db.query(`SELECT 1 FROM users WHERE email = $1`, [
        `${sub}@example.test`,
      ]);
      expect(users).toHaveLength(0);
      const [failure] = await f.db.query<{ details: { method: string; reason: string } }[]>(
        `SELECT details FROM audit_logs WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`,
      );
      expect(failure!.details.method).toBe('oidc');
      expect(failure!.details.reason).toMatch(reason);
    }

    it('accepts a valid one (the control: the cases below differ from it in one part)', async () => {
      const { response, sub } = await callbackWith((url, s) => ({
        claims: fake.validClaims(url, person(s)),
        sign: fake.signValid,
      }));
      expect(response.status).toBe(200);
      expect((response.body as TokenBody).user).toMatchObject({
        email: `${sub}@example.test`,
        role: 'case_worker',
      });
      // PKCE S256: the verifier the app sent matches the challenge of its authorization URL
      // (the fake's token endpoint refuses otherwise), and it is never in the URL.
      const last = fake.tokenRequests.at(-1)!;
      expect(last.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    });

    it('refuses a forged signature (another key under the published key id)', async () => {
      const { privateKey } = await jose.generateKeyPair('RS256');
      await expectRefused(
        (url, s) => ({
          claims: fake.validClaims(url, person(s)),
          sign: (claims) =>
            new jose.SignJWT(claims)
              .setProtectedHeader({ alg: 'RS256', kid: fake.kid })
              .sign(privateKey),
        }),
        /signature/i,
      );
    });

    it('refuses an expired one', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectRefused(
        (url, s) => ({
          claims: { ...fake.validClaims(url, person(s)), iat: now - 3600, exp: now - 600 },
          sign: fake.signValid,
        }),
        /exp/i,
      );
    });

    it('refuses one issued to another audience', async () => {
      await expectRefused(
        (url, s) => ({
          claims: { ...fake.validClaims(url, person(s)), aud: 'another-client' },
          sign: fake.signValid,
        }),
        /aud/i,
      );
    });

    it('refuses one from another issuer', async () => {
      await expectRefused(
        (url, s) => ({
          claims: { ...fake.validClaims(url, person(s)), iss: 'https://issuer.invalid' },
          sign: fake.signValid,
        }),
        /iss/i,
      );
    });

    it('refuses a wrong nonce (a token minted for another sign-in)', async () => {
      await expectRefused(
        (url, s) => ({
          claims: { ...fake.validClaims(url, person(s)), nonce: 'a-nonce-of-another-sign-in' },
          sign: fake.signValid,
        }),
        /nonce/i,
      );
    });

    it('refuses one without a nonce', async () => {
      await expectRefused((url, s) => {
        const claims = fake.validClaims(url, person(s));
        delete claims.nonce;
        return { claims, sign: fake.signValid };
      }, /nonce/i);
    });

    it('refuses alg: none', async () => {
      await expectRefused(
        (url, s) => ({
          claims: fake.validClaims(url, person(s)),
          sign: (claims) => Promise.resolve(new jose.UnsecuredJWT(claims).encode()),
        }),
        /alg/i,
      );
    });

    it('refuses HS256 signed with the client secret (algorithm confusion)', async () => {
      await expectRefused(
        (url, s) => ({
          claims: fake.validClaims(url, person(s)),
          sign: (claims) =>
            new jose.SignJWT(claims)
              .setProtectedHeader({ alg: 'HS256' })
              .sign(new TextEncoder().encode(fake.clientSecret)),
        }),
        /alg/i,
      );
    });
  });

  describe('without OIDC_ISSUER', () => {
    let off: TestApp;

    beforeAll(async () => {
      // Empty is unset (the outer app's OIDC settings are still in process.env).
      off = await startApp({ OIDC_ISSUER: '' });
    });

    afterAll(async () => {
      await off?.close();
    });

    it('answers 404 on both routes and leaves password login alone', async () => {
      expect(expectProblem(await off.http.get('/api/v1/auth/oidc/login'), 404).type).toMatch(
        /oidc-not-configured$/,
      );
      expectProblem(await off.http.get('/api/v1/auth/oidc/callback?code=x&state=y'), 404);
      expect((await attemptLogin(off.http, ADMIN.username, ADMIN.password)).status).toBe(200);
    });
  });
});
