import { expectProblem, loginAsAdmin, randomIp, Session, startApp, TestApp } from '../support/app';

/** TARGETS S4: requests past the limit get 429 with Retry-After, per user, across routes. */
describe('Rate limiting (SPEC section 1, TARGETS S4)', () => {
  let t: TestApp;
  let admin: Session;

  // Limits are kept in Redis per user: a private prefix keeps this suite's low limits (and
  // the blocks they set on the shared admin) away from suites running beside it.
  const REDIS_PREFIX = `${process.env.REDIS_PREFIX ?? 'vbt'}-rate-limit`;

  beforeAll(async () => {
    t = await startApp({
      REDIS_PREFIX,
      RATE_LIMIT_MAX: '5',
      RATE_LIMIT_TTL_SECONDS: '60',
      AUTH_FAILURES_MAX_PER_IP: '20',
    });
    admin = await loginAsAdmin(t.http);
  });
  afterAll(() => t.close());

  it('answers the request past the limit with a 429 problem and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: { headers: Record<string, string>; body: Record<string, unknown> } | undefined;
    for (let i = 0; i < 8; i += 1) {
      const response = await t.http.get('/api/v1/permissions').set(admin.auth);
      statuses.push(response.status);
      if (response.status === 429) limited ??= response as never;
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
    expect(statuses).toContain(429);
    expect(limited!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited!.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
  });

  describe('requests without valid credentials (F11)', () => {
    const statusesOf = async (
      send: (ip: string) => Promise<{ status: number; headers: Record<string, string> }>,
      ip: string,
      count: number,
    ) => {
      const responses = [];
      for (let i = 0; i < count; i += 1) responses.push(await send(ip));
      return responses;
    };

    it.each([
      ['a wrong X-API-Key', { 'X-API-Key': `vbk_${'A'.repeat(43)}` }],
      ['a bad bearer token', { Authorization: 'Bearer not.a.token' }],
      ['no credentials', {}],
    ])(
      'F11: 40 requests with %s from one address meet 429 with Retry-After',
      async (_, headers) => {
        const ip = randomIp();
        const responses = await statusesOf(
          (from) => t.http.get('/api/v1/cases').set(headers).set('X-Forwarded-For', from),
          ip,
          40,
        );
        const statuses = responses.map((r) => r.status);
        expect(statuses.filter((s) => s === 401)).toHaveLength(20);
        expect(statuses.slice(20)).toEqual(Array.from({ length: 20 }, () => 429));
        const limited = expectProblem(responses[39]! as never, 429);
        expect(limited.type).toMatch(/too-many-authentication-failures$/);
        expect(Number(responses[39]!.headers['retry-after'])).toBeGreaterThan(0);
        // Before any credential is checked: even a valid one is refused from that address...
        expectProblem(
          await t.http.get('/api/v1/auth/me').set(admin.auth).set('X-Forwarded-For', ip),
          429,
        );
        // ...while other addresses are not affected.
        expectProblem(
          await t.http.get('/api/v1/cases').set(headers).set('X-Forwarded-For', randomIp()),
          401,
        );
      },
    );
    it('F11: a second replica refuses a failing address from its own first failure there on', async () => {
      const replica = await startApp({
        REDIS_PREFIX,
        RATE_LIMIT_MAX: '5',
        RATE_LIMIT_TTL_SECONDS: '60',
        AUTH_FAILURES_MAX_PER_IP: '20',
      });
      try {
        const ip = randomIp();
        const wrongKey = { 'X-API-Key': `vbk_${'B'.repeat(43)}` };
        for (let i = 0; i < 20; i += 1) {
          await t.http.get('/api/v1/cases').set(wrongKey).set('X-Forwarded-For', ip).expect(401);
        }
        // The replica has not seen this address fail: one lookup, then the shared count holds.
        await replica.http
          .get('/api/v1/cases')
          .set(wrongKey)
          .set('X-Forwarded-For', ip)
          .expect(401);
        expectProblem(
          await replica.http.get('/api/v1/cases').set(wrongKey).set('X-Forwarded-For', ip),
          429,
        );
      } finally {
        await replica.close();
      }
    });
  });

  describe('operational routes (issue 12)', () => {
    it('issue 12: never limits /health/live, /health/ready or /metrics, even when the address is exhausted', async () => {
      const ip = randomIp();
      // Exhaust the address: anonymous calls are limited per address (RATE_LIMIT_MAX=5).
      const refresh = () =>
        t.http
          .post('/api/v1/auth/refresh')
          .set('X-Forwarded-For', ip)
          .send({ refreshToken: 'not-a-token' });
      let limited: { status: number } | undefined;
      for (let i = 0; i < 10 && limited?.status !== 429; i += 1) limited = await refresh();
      expect(expectProblem(limited as never, 429).type).toMatch(/too-many-requests$/);
      for (let i = 0; i < 10; i += 1) {
        for (const path of ['/health/live', '/health/ready', '/metrics']) {
          const response = await t.http.get(path).set('X-Forwarded-For', ip);
          expect({ path, status: response.status }).toEqual({ path, status: 200 });
        }
      }
    });
  });
});
