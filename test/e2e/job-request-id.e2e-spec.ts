import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry';
import { WorkerModule } from '../../src/worker.module';
import { loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { createCase, startAudioApp, uploadAudio, waitForJob, wavBuffer } from '../support/audio';
import { createConversation, eventually, turn } from '../support/turns';

/**
 * The request id travels from the HTTP request that asks for a job into the job's
 * payload, and from there into the audit entries (and log lines) the job writes.
 */
describe('Jobs run under the request id that asked for them', () => {
  const requestId = (label: string) => `e2e-${label}-${randomBytes(6).toString('hex')}`;
  const auditRequestIds = async (t: TestApp, action: string, resourceId: string) =>
    (
      await t.db.query<{ request_id: string | null }[]>(
        'SELECT request_id FROM audit_logs WHERE action = $1 AND resource_id = $2',
        [action, resourceId],
      )
    ).map((row) => row.request_id);

  describe('audio-archive queue (API process with workers)', () => {
    let t: TestApp;
    let admin: Session;

    beforeAll(async () => {
      t = await startAudioApp('request-id');
      admin = await loginAsAdmin(t.http);
    });
    afterAll(() => t.close());

    it('writes the X-Request-Id of POST /audio/:id/archive into the archive job’s audit entry', async () => {
      const caseId = await createCase(t.http, admin.auth);
      const uploaded = await uploadAudio(t, admin.auth, caseId, { content: wavBuffer(1) });
      expect(uploaded.status).toBe(201);
      const audioId = uploaded.body.id as string;
      const id = requestId('archive');
      const accepted = await t.http
        .post(`/api/v1/audio/${audioId}/archive`)
        .set(admin.auth)
        .set('X-Request-Id', id)
        .send({ reason: 'request id e2e' })
        .expect(202);
      expect(accepted.headers['x-request-id']).toBe(id);
      expect((await waitForJob(t.http, admin.auth, accepted.body.jobId)).state).toBe('completed');
      expect(await auditRequestIds(t, 'audio.archive', audioId)).toEqual([id]);
    });
  });

  describe('turn-persistence queue (API without workers, a separate worker context)', () => {
    let api: TestApp;
    let worker: INestApplicationContext | undefined;
    let admin: Session;
    let caseWorker: Session;

    beforeAll(async () => {
      api = await startAudioApp('request-id-turns', { WORKERS_ENABLED: 'false' });
      admin = await loginAsAdmin(api.http);
      caseWorker = await userSession(api.http, admin, 'case_worker');
    });
    afterAll(async () => {
      await worker?.close();
      await api.close();
    });

    it('seals in the worker under the X-Request-Id of POST /conversations/:id/end, and the worker counts the turns it persisted', async () => {
      const conversation = await createConversation(api.http, caseWorker);
      await api.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(caseWorker.auth)
        .send({ turns: [turn(1), turn(2), turn(3)] })
        .expect(202);
      // No worker drains the buffer, so the end request leaves the seal to a job.
      const id = requestId('seal');
      const ended = await api.http
        .post(`/api/v1/conversations/${conversation.id}/end`)
        .set(caseWorker.auth)
        .set('X-Request-Id', id)
        .expect(202);
      expect(ended.body.sealJobId).toEqual(expect.any(String));
      expect(await auditRequestIds(api, 'conversation.seal', conversation.id)).toEqual([]);

      worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
      await worker.init();
      const sealed = await eventually(
        () => auditRequestIds(api, 'conversation.seal', conversation.id),
        (ids) => ids.length > 0,
        30_000,
      );
      expect(sealed).toEqual([id]);
      // The worker process records persistence metrics through the port too.
      const metrics = await worker.get(MetricsRegistry).registry.getMetricsAsJSON();
      const persisted = metrics.find((m) => m.name === 'verbatim_turns_persisted_total');
      expect(persisted?.values[0]?.value).toBeGreaterThanOrEqual(3);
    });
  });
});
