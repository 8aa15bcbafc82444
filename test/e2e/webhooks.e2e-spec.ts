import { Webhook } from 'standardwebhooks';
import { expectProblem, loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { createCase, startAudioApp, uploadAudio, wavBuffer } from '../support/audio';
import { eventually, WebhookReceiver, WebhookBody } from '../support/webhook-receiver';

/** Receivers listen on 127.0.0.2, the one loopback address this app may reach. */
const ALLOWED = '127.0.0.2';
/** SPEC section 11's schedule, shortened: 8 attempts within about 5 seconds. */
const FAST_RETRIES = '300ms,300ms,500ms,500ms,1s,1s,1s';

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  consecutiveFailures: number;
  secret?: string;
}

interface DeliveryView {
  id: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  durationMs: number | null;
  nextAttemptAt: string | null;
  attemptLog?: {
    attempt: number;
    statusCode: number | null;
    error: string | null;
    responseBody: string | null;
  }[];
}

describe('Webhooks (SPEC section 11, TARGETS R8 and S10)', () => {
  let t: TestApp;
  let admin: Session;
  const receivers: WebhookReceiver[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    t = await startAudioApp('webhooks', {
      WEBHOOK_ALLOWED_HOSTS: ALLOWED,
      WEBHOOK_RETRY_DELAYS: FAST_RETRIES,
      WEBHOOK_TIMEOUT_MS: '2000',
    });
    admin = await loginAsAdmin(t.http);
  });

  afterEach(async () => {
    // Other specs of the run create cases too: no endpoint of this spec outlives its test.
    for (const id of created.splice(0)) {
      await t.http.delete(`/api/v1/webhooks/${id}`).set(admin.auth);
    }
    for (const receiver of receivers.splice(0)) await receiver.stop();
  });

  afterAll(() => t.close());

  async function receiver(host = ALLOWED): Promise<WebhookReceiver> {
    const started = await new WebhookReceiver(host).start();
    receivers.push(started);
    return started;
  }

  async function createWebhook(url: string, events: string[]): Promise<WebhookView> {
    const response = await t.http
      .post('/api/v1/webhooks')
      .set(admin.auth)
      .send({ url, events })
      .expect(201);
    const webhook = response.body as WebhookView;
    created.push(webhook.id);
    return webhook;
  }

  async function deliveries(webhookId: string): Promise<DeliveryView[]> {
    const response = await t.http
      .get(`/api/v1/webhooks/${webhookId}/deliveries?limit=100`)
      .set(admin.auth)
      .expect(200);
    return (response.body as { data: DeliveryView[] }).data;
  }

  async function delivery(webhookId: string, id: string): Promise<DeliveryView> {
    const response = await t.http
      .get(`/api/v1/webhooks/${webhookId}/deliveries/${id}`)
      .set(admin.auth)
      .expect(200);
    return response.body as DeliveryView;
  }

  const verified = (secret: string, request: { headers: Record<string, unknown>; body: string }) =>
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }) as WebhookBody;

  describe('managing endpoints', () => {
    it('creates with a secret shown once, reads, lists, changes and deletes', async () => {
      const hook = await receiver();
      const response = await t.http
        .post('/api/v1/webhooks')
        .set(admin.auth)
        .send({ url: hook.url, events: ['case.created', 'case.closed'], description: 'CRM' })
        .expect(201);
      const body = response.body as WebhookView & { description: string };
      created.push(body.id);
      expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(response.headers.location).toBe(`/api/v1/webhooks/${body.id}`);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(body).toMatchObject({
        url: hook.url,
        events: ['case.created', 'case.closed'],
        description: 'CRM',
        enabled: true,
        consecutiveFailures: 0,
        createdBy: admin.userId,
      });

      const read = await t.http.get(`/api/v1/webhooks/${body.id}`).set(admin.auth).expect(200);
      expect(read.body).not.toHaveProperty('secret');
      expect(JSON.stringify(read.body)).not.toContain(body.secret!.slice(6));
      const list = await t.http.get('/api/v1/webhooks?limit=100').set(admin.auth).expect(200);
      expect((list.body.data as WebhookView[]).map((w) => w.id)).toContain(body.id);
      expect(JSON.stringify(list.body)).not.toContain(body.secret!.slice(6));

      const changed = await t.http
        .patch(`/api/v1/webhooks/${body.id}`)
        .set(admin.auth)
        .send({ events: ['*'], enabled: false })
        .expect(200);
      expect(changed.body).toMatchObject({ events: ['*'], enabled: false });

      await t.http.delete(`/api/v1/webhooks/${body.id}`).set(admin.auth).expect(204);
      await t.http.get(`/api/v1/webhooks/${body.id}`).set(admin.auth).expect(404);
    });

    it('refuses unknown event types, non-http URLs, credentials in the URL and unknown fields', async () => {
      const hook = await receiver();
      for (const body of [
        { url: hook.url, events: ['case.exploded'] },
        { url: hook.url, events: [] },
        { url: 'ftp://127.0.0.2/hook', events: ['case.created'] },
        { url: 'not a url', events: ['case.created'] },
        { url: `http://user:pw@${ALLOWED}/hook`, events: ['case.created'] },
        { url: hook.url, events: ['case.created'], secret: 'whsec_mine' },
      ]) {
        expectProblem(await t.http.post('/api/v1/webhooks').set(admin.auth).send(body), 400);
      }
    });

    it('is for webhooks:manage holders only: 403 for everyone else, 401 without credentials (S5)', async () => {
      const hook = await receiver();
      const mine = await createWebhook(hook.url, ['case.created']);
      for (const role of ['case_worker', 'supervisor', 'auditor', 'processor']) {
        const session = await userSession(t.http, admin, role);
        const calls = [
          t.http.get('/api/v1/webhooks'),
          t.http.post('/api/v1/webhooks').send({ url: hook.url, events: ['*'] }),
          t.http.get(`/api/v1/webhooks/${mine.id}`),
          t.http.patch(`/api/v1/webhooks/${mine.id}`).send({ enabled: false }),
          t.http.delete(`/api/v1/webhooks/${mine.id}`),
          t.http.post(`/api/v1/webhooks/${mine.id}/test`),
          t.http.get(`/api/v1/webhooks/${mine.id}/deliveries`),
        ];
        for (const call of calls) expectProblem(await call.set(session.auth), 403);
      }
      expectProblem(await t.http.get('/api/v1/webhooks'), 401);
      await t.http.get(`/api/v1/webhooks/${mine.id}`).set(admin.auth).expect(200);
    });
  });

  describe('delivering (Standard Webhooks)', () => {
    it('signs case.created, audio.uploaded and case.closed so standardwebhooks verifies them', async () => {
      const hook = await receiver();
      const webhook = await createWebhook(hook.url, [
        'case.created',
        'audio.uploaded',
        'case.closed',
      ]);
      const caseId = await createCase(t.http, admin.auth, 'Webhook case');
      const upload = await uploadAudio(t, admin.auth, caseId, { content: wavBuffer(1) });
      expect(upload.status).toBe(201);
      await t.http.post(`/api/v1/cases/${caseId}/close`).set(admin.auth).expect(200);

      const mine = await eventually(() => {
        const found = hook.matching((b) => b.data.caseId === caseId);
        return found.length >= 3 ? found : null;
      });
      const bodies = mine.map((request) => verified(webhook.secret!, request));
      expect(bodies.map((b) => b.type).sort()).toEqual([
        'audio.uploaded',
        'case.closed',
        'case.created',
      ]);
      for (const request of mine) {
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
        expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      }
      const uploaded = bodies.find((b) => b.type === 'audio.uploaded')!;
      expect(uploaded.data).toMatchObject({
        resourceType: 'audio',
        resourceId: upload.body.id,
        caseId,
        actorId: admin.userId,
      });
      expect(bodies.find((b) => b.type === 'case.created')!.data).toMatchObject({
        resourceType: 'case',
        resourceId: caseId,
        caseCode: expect.stringMatching(/^CASE-/),
      });
      expect(new Date(uploaded.timestamp).toISOString()).toBe(uploaded.timestamp);

      const log = await eventually(async () => {
        const rows = (await deliveries(webhook.id)).filter((d) =>
          mine.some((r) => r.headers['webhook-id'] === d.id),
        );
        return rows.length === 3 && rows.every((d) => d.status === 'delivered') ? rows : null;
      });
      for (const row of log) {
        expect(row).toMatchObject({ attempts: 1, lastStatusCode: 204, lastError: null });
        expect(row.nextAttemptAt).toBeNull();
      }
    });

    it('delivers nothing for a change that rolled back (a duplicate caseCode)', async () => {
      const hook = await receiver();
      await createWebhook(hook.url, ['case.created']);
      const caseCode = `WH-${Date.now()}`;
      await t.http
        .post('/api/v1/cases')
        .set(admin.auth)
        .send({ title: 'first', caseCode })
        .expect(201);
      await t.http
        .post('/api/v1/cases')
        .set(admin.auth)
        .send({ title: 'again', caseCode })
        .expect(409);
      await eventually(() => hook.matching((b) => b.data.caseCode === caseCode).length === 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(hook.matching((b) => b.data.caseCode === caseCode)).toHaveLength(1);
      const [row] = await t.db.query(
        `SELECT count(*)::int AS n FROM webhook_deliveries WHERE payload->'data'->>'caseCode' = $1`,
        [caseCode],
      );
      expect(row.n).toBe(1);
    });

    it('sends webhook.test on POST /webhooks/:id/test, and only to that endpoint', async () => {
      const hook = await receiver();
      const other = await receiver();
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      await createWebhook(other.url, ['*']);
      const response = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/test`)
        .set(admin.auth)
        .expect(202);
      expect(response.body).toMatchObject({ eventType: 'webhook.test', status: 'pending' });
      const [request] = await eventually(() => (hook.requests.length > 0 ? hook.requests : null));
      expect(request!.headers['webhook-id']).toBe(response.body.id);
      expect(verified(webhook.secret!, request!)).toMatchObject({
        type: 'webhook.test',
        data: { webhookId: webhook.id },
      });
      expect(other.matching((b) => b.type === 'webhook.test')).toHaveLength(0);
    });
  });

  describe('retrying', () => {
    it('retries a 500 once the schedule says, with the same webhook-id, and keeps 1 KiB of the answer', async () => {
      const hook = await receiver();
      hook.answer = (_, index) =>
        index === 0 ? { status: 500, body: 'x'.repeat(5000) } : { status: 204 };
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      const sent = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/test`)
        .set(admin.auth)
        .expect(202);
      const done = await eventually(async () => {
        const row = await delivery(webhook.id, sent.body.id);
        return row.status === 'delivered' ? row : null;
      });
      expect(hook.requests).toHaveLength(2);
      expect(hook.requests.map((r) => r.headers['webhook-id'])).toEqual([
        sent.body.id,
        sent.body.id,
      ]);
      for (const request of hook.requests) verified(webhook.secret!, request);
      expect(hook.requests[1]!.receivedAt - hook.requests[0]!.receivedAt).toBeGreaterThanOrEqual(
        250,
      );
      expect(done).toMatchObject({ attempts: 2, lastStatusCode: 204, lastError: null });
      expect(done.attemptLog).toEqual([
        expect.objectContaining({
          attempt: 1,
          statusCode: 500,
          error: 'HTTP 500',
          responseBody: 'x'.repeat(1024),
        }),
        expect.objectContaining({ attempt: 2, statusCode: 204, error: null, responseBody: null }),
      ]);
    });

    it('loses nothing while the receiver is down and delivers each delivery once when it is back (R8)', async () => {
      const hook = await receiver();
      const webhook = await createWebhook(hook.url, ['case.created']);
      await hook.stop();
      const caseIds: string[] = [];
      for (let i = 0; i < 5; i += 1)
        caseIds.push(await createCase(t.http, admin.auth, `down ${i}`));
      // Every delivery fails at least twice before the receiver is back.
      await eventually(async () => {
        const rows = await t.db.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM webhook_deliveries
            WHERE webhook_id = $1 AND attempts >= 2 AND payload->'data'->>'resourceId' = ANY($2)`,
          [webhook.id, caseIds],
        );
        return rows[0]!.n === 5;
      });
      await hook.start();
      const received = await eventually(() => {
        const mine = hook.matching((b) => caseIds.includes(b.data.resourceId as string));
        return mine.length >= 5 ? mine : null;
      }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const ids = hook
        .matching((b) => caseIds.includes(b.data.resourceId as string))
        .map((r) => r.headers['webhook-id'] as string);
      expect(new Set(ids).size).toBe(5);
      expect(ids).toHaveLength(5);
      expect(received).toHaveLength(5);
      for (const id of ids) {
        const row = await delivery(webhook.id, id);
        expect(row.status).toBe('delivered');
        expect(row.attempts).toBeGreaterThanOrEqual(3);
        // The attempts in order: every one but the last failed to connect.
        expect(row.attemptLog!.map((a) => a.attempt)).toEqual(
          Array.from({ length: row.attempts }, (_, i) => i + 1),
        );
        expect(row.attemptLog!.slice(0, -1).every((a) => a.statusCode === null && a.error)).toBe(
          true,
        );
        expect(row.attemptLog!.at(-1)).toMatchObject({ statusCode: 204, error: null });
      }
    });

    it('gives up after 8 attempts, and disables an endpoint after 20 deliveries failed in a row', async () => {
      const hook = await receiver();
      hook.answer = () => ({ status: 503 });
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      const sent: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        const response = await t.http
          .post(`/api/v1/webhooks/${webhook.id}/test`)
          .set(admin.auth)
          .expect(202);
        sent.push(response.body.id as string);
      }
      const disabled = await eventually(async () => {
        const response = await t.http
          .get(`/api/v1/webhooks/${webhook.id}`)
          .set(admin.auth)
          .expect(200);
        return response.body.enabled === false
          ? (response.body as WebhookView & { disabledAt: string })
          : null;
      }, 20_000);
      expect(disabled.consecutiveFailures).toBe(20);
      expect(disabled.disabledAt).toEqual(expect.any(String));
      const rows = await deliveries(webhook.id);
      expect(
        rows
          .filter((d) => sent.includes(d.id))
          .every((d) => d.status === 'failed' && d.attempts === 8),
      ).toBe(true);
      expect(hook.requests).toHaveLength(20 * 8);
      const audit = await t.http
        .get(`/api/v1/audit?action=webhook.disable&resourceId=${webhook.id}`)
        .set(admin.auth)
        .expect(200);
      expect(audit.body.data).toEqual([
        expect.objectContaining({ action: 'webhook.disable', resourceId: webhook.id }),
      ]);
      // Every active admin is notified, once.
      const notified = await t.db.query<{ user_id: string }[]>(
        `SELECT user_id FROM notifications WHERE type = 'webhook.disabled' AND resource_id = $1`,
        [webhook.id],
      );
      const admins = await t.db.query<{ id: string }[]>(
        `SELECT id FROM users WHERE role = 'admin' AND is_active`,
      );
      expect(notified.map((n) => n.user_id).sort()).toEqual(admins.map((a) => a.id).sort());

      expectProblem(await t.http.post(`/api/v1/webhooks/${webhook.id}/test`).set(admin.auth), 409);
      const enabled = await t.http
        .patch(`/api/v1/webhooks/${webhook.id}`)
        .set(admin.auth)
        .send({ enabled: true })
        .expect(200);
      expect(enabled.body).toMatchObject({
        enabled: true,
        consecutiveFailures: 0,
        disabledAt: null,
      });
    });

    it('redelivers a delivered delivery with the same webhook-id', async () => {
      const hook = await receiver();
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      const sent = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/test`)
        .set(admin.auth)
        .expect(202);
      await eventually(
        async () => (await delivery(webhook.id, sent.body.id)).status === 'delivered',
      );
      const again = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/deliveries/${sent.body.id}/redeliver`)
        .set(admin.auth)
        .expect(202);
      expect(again.body).toMatchObject({ id: sent.body.id, status: 'pending', attempts: 1 });
      await eventually(() => hook.requests.length === 2);
      expect(hook.requests.map((r) => r.headers['webhook-id'])).toEqual([
        sent.body.id,
        sent.body.id,
      ]);
      const row = await eventually(async () => {
        const found = await delivery(webhook.id, sent.body.id);
        return found.status === 'delivered' && found.attempts === 2 ? found : null;
      });
      expect(row.attemptLog).toHaveLength(2);
      await t.http
        .post(`/api/v1/webhooks/${webhook.id}/deliveries/${webhook.id}/redeliver`)
        .set(admin.auth)
        .expect(404);
    });

    it('does not follow redirects', async () => {
      const target = await receiver();
      const hook = await receiver();
      hook.answer = () => ({ status: 302, headers: { location: target.url } });
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      const sent = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/test`)
        .set(admin.auth)
        .expect(202);
      const row = await eventually(async () => {
        const found = await delivery(webhook.id, sent.body.id);
        return found.attempts >= 1 && found.lastStatusCode ? found : null;
      });
      expect(row).toMatchObject({ lastStatusCode: 302 });
      expect(row.lastError).toMatch(/redirects are not followed/);
      expect(target.requests).toHaveLength(0);
    });
  });

  describe('SSRF (S10)', () => {
    it.each([
      ['loopback', 'http://127.0.0.1:8080/hook'],
      ['another loopback address', 'http://127.0.0.3/hook'],
      ['IPv6 loopback', 'http://[::1]/hook'],
      ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook'],
      ['a decimal loopback', 'http://2130706433/hook'],
      ['RFC 1918 10/8', 'http://10.0.0.5/hook'],
      ['RFC 1918 172.16/12', 'https://172.20.1.1/hook'],
      ['RFC 1918 192.168/16', 'http://192.168.1.10/hook'],
      ['link-local', 'http://169.254.10.20/hook'],
      ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
      ['IPv6 link-local', 'http://[fe80::1]/hook'],
      ['IPv6 ULA', 'http://[fd00::1]/hook'],
      ['AWS IPv6 metadata', 'http://[fd00:ec2::254]/'],
      ['unspecified', 'http://0.0.0.0/hook'],
      ['a name resolving to loopback', 'http://localhost:8080/hook'],
    ])('refuses %s at creation with 400', async (_, url) => {
      const response = await t.http
        .post('/api/v1/webhooks')
        .set(admin.auth)
        .send({ url, events: ['case.created'] });
      const problem = expectProblem(response, 400);
      expect(problem.errors).toEqual([
        expect.objectContaining({
          field: 'url',
          message: expect.stringMatching(/loopback, private/),
        }),
      ]);
    });

    it('refuses the same on PATCH', async () => {
      const hook = await receiver();
      const webhook = await createWebhook(hook.url, ['backup.failed']);
      expectProblem(
        await t.http
          .patch(`/api/v1/webhooks/${webhook.id}`)
          .set(admin.auth)
          .send({ url: 'http://169.254.169.254/' }),
        400,
      );
    });

    it.each([
      ['an address no longer allowed', (port: number) => `http://127.0.0.1:${port}/hook`],
      ['a name that now resolves to loopback', (port: number) => `http://localhost:${port}/hook`],
    ])('checks again when delivering: %s is not contacted', async (_, urlOf) => {
      const allowed = await receiver();
      const forbidden = await receiver('127.0.0.1');
      const webhook = await createWebhook(allowed.url, ['backup.failed']);
      // As if the name had resolved elsewhere when it was checked: the row changes behind the API.
      const port = Number(new URL(forbidden.url).port);
      await t.db.query(`UPDATE webhooks SET url = $2 WHERE id = $1`, [webhook.id, urlOf(port)]);
      const sent = await t.http
        .post(`/api/v1/webhooks/${webhook.id}/test`)
        .set(admin.auth)
        .expect(202);
      const row = await eventually(async () => {
        const found = await delivery(webhook.id, sent.body.id);
        return found.attempts >= 1 && found.lastError ? found : null;
      });
      expect(row.lastError).toMatch(
        /127\.0\.0\.1 is a loopback, private, link-local or metadata address/,
      );
      expect(row.lastStatusCode).toBeNull();
      expect(forbidden.requests).toHaveLength(0);
      expect(allowed.requests).toHaveLength(0);
    });
  });
});
