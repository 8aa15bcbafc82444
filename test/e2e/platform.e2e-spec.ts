import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loginAsAdmin, startApp, TestApp } from '../support/app';
import { createCase, startAudioApp, wavBuffer } from '../support/audio';
import { PERMISSIONS } from '../../src/core/security/permissions';

interface SlowResult {
  /** Milliseconds from the first byte sent until the server closed the socket. */
  closedAfterMs: number;
  /** Everything the server sent back. */
  response: string;
}

/**
 * Sends `head` at once, then `chunks` one every `everyMs` over a raw socket, as a slow
 * client would, and resolves when the server closes the connection (or after `giveUpMs`).
 */
function sendSlowly(
  port: number,
  head: string,
  chunks: Buffer[],
  everyMs: number,
  giveUpMs: number,
): Promise<SlowResult> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const started = Date.now();
    const received: Buffer[] = [];
    let next = 0;
    const timer = setInterval(() => {
      if (next < chunks.length && !socket.destroyed) socket.write(chunks[next++]!);
    }, everyMs);
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({
        closedAfterMs: Date.now() - started,
        response: Buffer.concat(received).toString('latin1'),
      });
    });
    socket.write(head);
  });
}

const portOf = (t: TestApp): number => (t.app.getHttpServer().address() as AddressInfo).port;

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

  it('answers a text/plain body on a JSON route with 415 problem+json, not a validation message', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml']) {
      const response = await t.http
        .post('/api/v1/auth/login')
        .set('content-type', type)
        .send('{"login":"admin","password":"x"}');
      expect(response.status).toBe(415);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ status: 415 });
      expect(response.body.errors).toBeUndefined();
    }
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
      // Every permission of the catalogue, and only those.
      expect((response.body.data as { name: string }[]).map((p) => p.name).sort()).toEqual(
        [...PERMISSIONS].sort(),
      );
    });
  });

  describe('slow clients (F7)', () => {
    let slow: TestApp & { storageRoot: string };
    beforeAll(async () => {
      slow = await startAudioApp('slow', {
        HTTP_BODY_TIMEOUT_MS: '1000',
        UPLOAD_MIN_BYTES_PER_SECOND: '2000',
        UPLOAD_RATE_WINDOW_MS: '1000',
      });
    });
    afterAll(() => slow.close());

    it('F7: cuts a JSON body that trickles in with 408 and closes the connection', async () => {
      const body = Buffer.from(JSON.stringify({ login: 'admin', password: 'p'.repeat(400) }));
      const result = await sendSlowly(
        portOf(slow),
        `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
        [...body].map((byte) => Buffer.from([byte])),
        100,
        15_000,
      );
      expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.response).toMatch(/application\/problem\+json/);
      expect(result.closedAfterMs).toBeGreaterThanOrEqual(900);
      expect(result.closedAfterMs).toBeLessThan(4000);
    });

    it('F7: cuts an upload below the minimum rate with 408, and stores nothing', async () => {
      const admin = await loginAsAdmin(slow.http);
      const caseId = await createCase(slow.http, admin.auth);
      const wav = wavBuffer(2);
      const boundary = 'slowboundary';
      const preamble =
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n` +
        `Content-Type: audio/wav\r\n\r\n`;
      const length = preamble.length + wav.length + `\r\n--${boundary}--\r\n`.length;
      const result = await sendSlowly(
        portOf(slow),
        `POST /api/v1/cases/${caseId}/audio HTTP/1.1\r\nHost: x\r\n` +
          `Authorization: ${admin.auth.Authorization}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
          `Content-Length: ${length}\r\n\r\n${preamble}`,
        // 100 bytes every 100 ms: 1000 bytes/s, half the configured minimum.
        Array.from({ length: Math.ceil(wav.length / 100) }, (_, i) =>
          wav.subarray(i * 100, (i + 1) * 100),
        ),
        100,
        15_000,
      );
      expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.closedAfterMs).toBeLessThan(4000);
      const list = await slow.http.get(`/api/v1/cases/${caseId}/audio`).set(admin.auth).expect(200);
      expect(list.body.meta.total).toBe(0);
    });

    it('F7: lets an upload take longer than the body timeout while it keeps the rate', async () => {
      const admin = await loginAsAdmin(slow.http);
      const caseId = await createCase(slow.http, admin.auth);
      const wav = wavBuffer(2); // 32 KiB
      const boundary = 'steadyboundary';
      const preamble =
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n` +
        `Content-Type: audio/wav\r\n\r\n`;
      const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`);
      const payload = Buffer.concat([wav, epilogue]);
      // 2 KiB every 200 ms: about 10 KB/s for about 3 s, three times the body timeout.
      const chunks = Array.from({ length: Math.ceil(payload.length / 2048) }, (_, i) =>
        payload.subarray(i * 2048, (i + 1) * 2048),
      );
      const result = await sendSlowly(
        portOf(slow),
        `POST /api/v1/cases/${caseId}/audio HTTP/1.1\r\nHost: x\r\n` +
          `Authorization: ${admin.auth.Authorization}\r\nConnection: close\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
          `Content-Length: ${preamble.length + payload.length}\r\n\r\n${preamble}`,
        chunks,
        200,
        15_000,
      );
      expect(result.response).toMatch(/^HTTP\/1\.1 201 /);
      expect(result.closedAfterMs).toBeGreaterThan(2000);
    });
  });
});
