import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';
import { createConversation, eventually, turn } from '../support/turns';

describe('Observability (SPEC sections 7 and 9)', () => {
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
  });
  afterAll(() => t.close());

  describe('GET /metrics', () => {
    it('exposes request latency by route pattern, queue depths, buffer lag, persisted turns and pool usage', async () => {
      const conversation = await createConversation(t.http, admin);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send(turn(1))
        .expect(202);
      await eventually(
        async () => (await t.http.get('/metrics').expect(200)).text,
        (text) => /verbatim_turns_persisted_total [1-9]/.test(text),
      );
      const response = await t.http.get('/metrics').expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      expect(response.text).toMatch(
        /http_request_duration_seconds_bucket\{[^}]*method="POST",route="\/api\/v1\/conversations\/:id\/turns",status_code="202"/,
      );
      expect(response.text).not.toContain(conversation.id);
      expect(response.text).toMatch(
        /verbatim_queue_jobs\{queue="turn-persistence",state="completed"\} \d+/,
      );
      expect(response.text).toMatch(/verbatim_turn_buffer_entries \d+/);
      expect(response.text).toMatch(/verbatim_turn_persistence_lag_seconds [\d.]+/);
      expect(response.text).toMatch(/verbatim_pg_pool_connections\{state="total"\} \d+/);
    });
  });

  describe('GET /stats/system', () => {
    it('reports row counts, active conversations, queue depths and buffer lag to stats:read holders', async () => {
      const stats = await t.http.get('/api/v1/stats/system').set(admin.auth).expect(200);
      expect(stats.body.rows.users).toBeGreaterThanOrEqual(1);
      expect(stats.body.activeConversations).toBeGreaterThanOrEqual(1);
      // Every queue the worker runs is reported; new queues join the list without changing this spec.
      expect(Object.keys(stats.body.queues)).toEqual(
        expect.arrayContaining([
          'audio-archive',
          'audit-checkpoint',
          'conversation-idle',
          'retention',
          'turn-persistence',
        ]),
      );
      expect(stats.body.turnBuffer).toEqual({
        entries: expect.any(Number),
        unacknowledged: expect.any(Number),
        lagMs: expect.any(Number),
        deadLettered: expect.any(Number),
      });
    });

    it('refuses callers without stats:read', async () => {
      const worker = await userSession(t.http, admin, 'case_worker');
      await t.http.get('/api/v1/stats/system').set(worker.auth).expect(403);
    });
  });
});
