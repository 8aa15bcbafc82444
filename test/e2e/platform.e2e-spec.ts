import { loginAsAdmin, startApp, TestApp } from '../support/app';

describe('Platform behaviour (SPEC section 1 and 9)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.close());

  describe('errors are RFC 9457 problem+json', () => {
    it('answers an unknown route with a 404 problem', async () => {
      const response = await t.http.get('/api/v1/no-such-route').expect(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({
        status: 404,
        title: 'Not Found',
        instance: '/api/v1/no-such-route',
      });
      expect(response.body.type).toEqual(expect.any(String));
      expect(response.body.detail).toEqual(expect.any(String));
    });

    it('rejects unknown fields instead of dropping them, naming the field', async () => {
      const response = await t.http
        .post('/api/v1/auth/login')
        .send({ login: 'a', password: 'b', isAdmin: true })
        .expect(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.errors).toEqual([
        { field: 'isAdmin', message: expect.stringContaining('should not exist') },
      ]);
    });

    it('answers malformed JSON with 400 and no stack trace', async () => {
      const response = await t.http
        .post('/api/v1/auth/login')
        .set('content-type', 'application/json')
        .send('{"login":')
        .expect(400);
      expect(JSON.stringify(response.body)).not.toMatch(/at .*\.js:\d+/);
    });

    it('answers a body over the limit with 413', async () => {
      const response = await t.http
        .post('/api/v1/auth/login')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ login: 'x'.repeat(5 * 1024 * 1024), password: 'y' }))
        .expect(413);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    });
  });

  describe('request ids', () => {
    it('echoes a client X-Request-Id', async () => {
      const response = await t.http
        .get('/health/live')
        .set('X-Request-Id', 'client-id-123')
        .expect(200);
      expect(response.headers['x-request-id']).toBe('client-id-123');
    });

    it('mints one when absent or unsafe, and puts it in problem documents', async () => {
      const response = await t.http
        .get('/api/v1/missing')
        .set('X-Request-Id', 'bad id; with spaces')
        .expect(404);
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.body.requestId).toBe(response.headers['x-request-id']);
    });
  });

  describe('health', () => {
    it('reports liveness and readiness outside /api/v1', async () => {
      await t.http.get('/health/live').expect(200, { status: 'ok' });
      const ready = await t.http.get('/health/ready').expect(200);
      expect(ready.body.details).toMatchObject({
        postgres: { status: 'up' },
        redis: { status: 'up' },
      });
    });
  });

  describe('OpenAPI', () => {
    it('serves the document generated from the DTOs and the UI', async () => {
      const json = await t.http.get('/docs-json').expect(200);
      expect(json.body.paths['/api/v1/auth/login']).toBeDefined();
      expect(json.body.components.schemas.LoginDto.properties).toHaveProperty('login');
      await t.http.get('/docs').expect(200);
    });
  });

  describe('security headers and deny-by-default', () => {
    it('sets helmet headers', async () => {
      const response = await t.http.get('/health/live');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('refuses every API route without credentials', async () => {
      for (const path of [
        '/api/v1/users',
        '/api/v1/roles',
        '/api/v1/audit',
        '/api/v1/auth/me',
        '/api/v1/permissions',
      ]) {
        const response = await t.http.get(path).expect(401);
        expect(response.body.type).toMatch(/unauthenticated$/);
      }
    });

    it('lists the permission catalogue for any user', async () => {
      const admin = await loginAsAdmin(t.http);
      const response = await t.http.get('/api/v1/permissions').set(admin.auth).expect(200);
      expect(response.body.data).toContainEqual({
        name: 'cases:all',
        description: expect.any(String),
      });
      expect(response.body.data).toHaveLength(20);
    });
  });
});
