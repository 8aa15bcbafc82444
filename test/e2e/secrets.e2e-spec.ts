import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectProblem, HttpResponse, randomIp, startApp, TestApp } from '../support/app';
import { ADMIN } from '../support/test-run';

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * TARGETS S9: no password, hash, token or key in any response or log line. The app logs
 * at debug level into a file while the identity flows run; then the file is searched.
 */
describe('Secrets stay out of logs and responses (TARGETS S9)', () => {
  const logFile = join(tmpdir(), `verbatim-secrets-${process.pid}-${randomUUID()}.log`);
  let t: TestApp;

  /** Every secret a flow handled: none may appear in a log line. */
  const secrets = new Set<string>();
  /** The passwords and hashes among them, which no response may carry either. */
  const passwordsAndHashes = new Set<string>();
  const responses: { label: string; response: HttpResponse }[] = [];
  const requestIds: string[] = [];
  let logText = '';
  let logLines: Record<string, unknown>[] = [];

  const remember = (...values: string[]) => values.forEach((v) => secrets.add(v));
  const rememberPassword = (...values: string[]) => {
    remember(...values);
    values.forEach((v) => passwordsAndHashes.add(v));
  };
  const rememberTokens = (tokens: Tokens) => {
    // The refresh token's secret half on its own must not leak either.
    remember(tokens.accessToken, tokens.refreshToken, tokens.refreshToken.split('.')[1]!);
    // Nor the signature of an access token, which is what makes it a credential.
    remember(tokens.accessToken.split('.')[2]!);
  };

  /** Sends a request with a known request id and keeps its answer for the checks. */
  async function call(
    label: string,
    request: { set(name: string, value: string): unknown },
  ): Promise<HttpResponse> {
    const id = `s9-${requestIds.length}-${randomUUID()}`;
    requestIds.push(id);
    const response = await (request.set('X-Request-Id', id) as Promise<HttpResponse>);
    expect(response.headers['x-request-id']).toBe(id);
    responses.push({ label, response });
    return response;
  }

  beforeAll(async () => {
    t = await startApp({ LOG_LEVEL: 'debug', LOG_FILE: logFile });
    const http = t.http;
    const ip = randomIp();
    const post = (path: string) => http.post(`/api/v1${path}`).set('X-Forwarded-For', ip);
    const get = (path: string) => http.get(`/api/v1${path}`).set('X-Forwarded-For', ip);

    // Logins: good and bad.
    rememberPassword(ADMIN.password);
    const adminLogin = await call(
      'admin login',
      post('/auth/login').send({ login: ADMIN.username, password: ADMIN.password }),
    );
    expect(adminLogin.status).toBe(200);
    const admin = adminLogin.body as Tokens;
    rememberTokens(admin);
    const adminAuth = { Authorization: `Bearer ${admin.accessToken}` };

    const wrongAdminPassword = `wrong-${randomUUID()}`;
    rememberPassword(wrongAdminPassword);
    expectProblem(
      await call(
        'bad admin login',
        post('/auth/login').send({ login: ADMIN.username, password: wrongAdminPassword }),
      ),
      401,
    );
    const unknownUserPassword = `unknown-${randomUUID()}`;
    rememberPassword(unknownUserPassword);
    expectProblem(
      await call(
        'unknown user login',
        post('/auth/login').send({ login: `ghost-${randomUUID()}`, password: unknownUserPassword }),
      ),
      401,
    );

    // User creation, including one refused for its short password.
    const username = `s9${Date.now().toString(36)}${process.pid}`;
    const password = `initial-${randomUUID()}`;
    rememberPassword(password);
    const created = await call(
      'create user',
      post('/users')
        .set(adminAuth)
        .send({
          username,
          email: `${username}@example.test`,
          fullName: 'Secret Keeper',
          password,
          role: 'processor',
        }),
    );
    expect(created.status).toBe(201);
    const shortPassword = 'tiny-pw-11';
    rememberPassword(shortPassword);
    expectProblem(
      await call(
        'create user, password too short',
        post('/users')
          .set(adminAuth)
          .send({
            username: `${username}x`,
            email: `${username}x@example.test`,
            fullName: 'Short',
            password: shortPassword,
            role: 'processor',
          }),
      ),
      400,
    );

    // The user logs in, refreshes, changes the password and logs in with the new one.
    const userLogin = await call(
      'user login',
      post('/auth/login').send({ login: username, password }),
    );
    expect(userLogin.status).toBe(200);
    const first = userLogin.body as Tokens;
    rememberTokens(first);
    const refreshed = await call(
      'refresh',
      post('/auth/refresh').send({ refreshToken: first.refreshToken }),
    );
    expect(refreshed.status).toBe(200);
    const second = refreshed.body as Tokens;
    rememberTokens(second);
    expectProblem(
      await call(
        'refresh re-use',
        post('/auth/refresh').send({ refreshToken: first.refreshToken }),
      ),
      401,
    );
    const third = (
      await call('login again', post('/auth/login').send({ login: username, password }))
    ).body as Tokens;
    rememberTokens(third);
    const userAuth = { Authorization: `Bearer ${third.accessToken}` };

    const wrongCurrent = `not-current-${randomUUID()}`;
    const newPassword = `changed-${randomUUID()}`;
    rememberPassword(wrongCurrent, newPassword);
    expectProblem(
      await call(
        'password change, wrong current',
        post('/auth/password').set(userAuth).send({ currentPassword: wrongCurrent, newPassword }),
      ),
      403,
    );
    const changed = await call(
      'password change',
      post('/auth/password').set(userAuth).send({ currentPassword: password, newPassword }),
    );
    expect(changed.status).toBe(200);
    const fourth = changed.body as Tokens;
    rememberTokens(fourth);
    const fourthAuth = { Authorization: `Bearer ${fourth.accessToken}` };
    expectProblem(await call('old token after change', get('/auth/me').set(userAuth)), 401);
    expect(
      (
        await call(
          'login, new password',
          post('/auth/login').send({ login: username, password: newPassword }),
        )
      ).status,
    ).toBe(200);

    // API keys: created, listed, used, and an unknown one refused.
    const keyResponse = await call(
      'create API key',
      post('/api-keys').set(fourthAuth).send({ name: 'engine' }),
    );
    expect(keyResponse.status).toBe(201);
    const key = (keyResponse.body as { key: string }).key;
    remember(key);
    await call('list API keys', get('/api-keys').set(fourthAuth));
    expect((await call('use API key', get('/auth/me').set('X-API-Key', key))).status).toBe(200);
    const forgedKey = `vbk_${'Z'.repeat(43)}`;
    remember(forgedKey);
    expectProblem(await call('forged API key', get('/auth/me').set('X-API-Key', forgedKey)), 401);
    const forgedJwt = `${fourth.accessToken.slice(0, -4)}AAAA`;
    remember(forgedJwt);
    expectProblem(
      await call('forged bearer', get('/auth/me').set('Authorization', `Bearer ${forgedJwt}`)),
      401,
    );

    // Logout.
    expect(
      (
        await call(
          'logout',
          post('/auth/logout').set(fourthAuth).send({ refreshToken: fourth.refreshToken }),
        )
      ).status,
    ).toBe(204);

    // Everything the server stores in place of a secret is a secret too.
    const [user] = await t.db.query<{ id: string; password_hash: string }[]>(
      'SELECT id, password_hash FROM users WHERE username = $1',
      [username],
    );
    const [adminRow] = await t.db.query<{ password_hash: string }[]>(
      'SELECT password_hash FROM users WHERE username = $1',
      [ADMIN.username],
    );
    rememberPassword(user!.password_hash, adminRow!.password_hash);
    const tokenHashes = await t.db.query<{ token_hash: string }[]>(
      'SELECT token_hash FROM refresh_tokens WHERE user_id = $1',
      [user!.id],
    );
    const keyHashes = await t.db.query<{ key_hash: string }[]>(
      'SELECT key_hash FROM api_keys WHERE user_id = $1',
      [user!.id],
    );
    expect(tokenHashes.length).toBeGreaterThanOrEqual(4);
    expect(keyHashes).toHaveLength(1);
    rememberPassword(...tokenHashes.map((r) => r.token_hash), ...keyHashes.map((r) => r.key_hash));

    await t.close();
    logText = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    logLines = logText
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  });

  afterAll(() => rmSync(logFile, { force: true }));

  it('writes the log as non-empty JSON lines', () => {
    expect(logLines.length).toBeGreaterThan(requestIds.length);
    for (const line of logLines) {
      expect(line).toMatchObject({ level: expect.any(Number), time: expect.any(Number) });
    }
  });

  it('logs every request with its request id', () => {
    const logged = new Set(
      logLines
        .map((line) => (line.req as { id?: string } | undefined)?.id)
        .filter((id): id is string => typeof id === 'string'),
    );
    for (const id of requestIds) expect(logged).toContain(id);
  });

  it('keeps every password, token, key and hash out of the log', () => {
    expect(secrets.size).toBeGreaterThan(20);
    const leaked = [...secrets].filter((secret) => logText.includes(secret));
    expect(leaked).toEqual([]);
    expect(logText).not.toMatch(/\$argon2/);
    expect(logText).not.toMatch(/Bearer\s+ey/);
    expect(logText).not.toMatch(/vbk_[A-Za-z0-9_-]{20}/);
  });

  it('keeps passwords and hashes out of every response body', () => {
    expect(passwordsAndHashes.size).toBeGreaterThan(10);
    for (const { label, response } of responses) {
      const leaked = [...passwordsAndHashes].filter((secret) => response.text.includes(secret));
      expect({ label, leaked }).toEqual({ label, leaked: [] });
      expect({ label, argon2: /\$argon2/.test(response.text) }).toEqual({ label, argon2: false });
      expect({ label, passwordField: /"password(Hash)?"\s*:/.test(response.text) }).toEqual({
        label,
        passwordField: false,
      });
    }
  });
});
