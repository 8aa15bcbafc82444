import { loginAsAdmin, Session, startApp, TestApp } from '../support/app';

/** TARGETS S4: requests past the limit get 429 with Retry-After, per user, across routes. */
describe('Rate limiting (SPEC section 1, TARGETS S4)', () => {
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    t = await startApp({ RATE_LIMIT_MAX: '5', RATE_LIMIT_TTL_SECONDS: '60' });
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
});
