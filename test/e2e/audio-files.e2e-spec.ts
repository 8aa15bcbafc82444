import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RETENTION_SCHEDULER_ID, RetentionJobName } from '../../src/audio-files/audio-jobs';
import { QueueName } from '../../src/core/queue/queue-names';
import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import {
  createCase,
  downloadAudio,
  startAudioApp,
  uploadAudio,
  waitForJob,
  wavBuffer,
  wavHeader,
  writeLargeWav,
} from '../support/audio';

interface AudioBody {
  id: string;
  status: string;
  claimedBy: string | null;
  errorMessage: string | null;
  isArchived: boolean;
  version?: number;
}

describe('Audio processing, jobs and retention (SPEC sections 4 and 8)', () => {
  let t: TestApp & { storageRoot: string };
  let admin: Session;
  let worker: Session;
  let processor: Session;
  let otherProcessor: Session;

  beforeAll(async () => {
    t = await startAudioApp('files');
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
    processor = await userSession(t.http, admin, 'processor');
    otherProcessor = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  const uploadOne = async (caseId?: string): Promise<AudioBody & { caseId: string }> => {
    const id = caseId ?? (await createCase(t.http, worker.auth));
    const response = await uploadAudio(t, worker.auth, id, { content: wavBuffer(1) });
    expect(response.status).toBe(201);
    return response.body as unknown as AudioBody & { caseId: string };
  };
  const get = async (id: string): Promise<AudioBody> =>
    (await t.http.get(`/api/v1/audio/${id}`).set(admin.auth).expect(200)).body as AudioBody;

  describe('what counts as audio (F10)', () => {
    const ID3 = Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1');
    const FAKES: [string, Buffer][] = [
      ['fLaC followed by HTML', Buffer.from(`fLaC<html><body>${'x'.repeat(300)}</body></html>`)],
      ['a 12-byte RIFF…WAVE', Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1')],
      ['a bare ID3 header', ID3],
      // The header promises 16,000 bytes of samples; 100 arrive.
      ['a truncated WAV', Buffer.concat([wavHeader(16_000), Buffer.alloc(100, 1)])],
      [
        'an MP4 with a zero-size box',
        Buffer.concat([
          Buffer.from([0, 0, 0, 0x1c]),
          Buffer.from('ftypM4A \x00\x00\x02\x00M4A isomiso2', 'latin1'),
          Buffer.from('\x00\x00\x00\x00moov', 'latin1'),
          Buffer.alloc(200, 5),
        ]),
      ],
    ];

    it.each(FAKES)('F10: refuses %s with 415 and stores nothing', async (_, content) => {
      const caseId = await createCase(t.http, worker.auth);
      const files = async () =>
        (await readdir(t.storageRoot, { recursive: true })).filter((f) => /\.\w+$/.test(f));
      const before = await files();
      const response = await uploadAudio(t, worker.auth, caseId, {
        content,
        filename: 'audio.bin',
      });
      expect(response.status).toBe(415);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
      expect(await files()).toEqual(before);
      const list = await t.http.get(`/api/v1/cases/${caseId}/audio`).set(worker.auth).expect(200);
      expect(list.body.meta.total).toBe(0);
    });
  });

  describe('claims', () => {
    it('moves queued → processing atomically for exactly one of many concurrent claimers', async () => {
      const file = await uploadOne();
      const results = await Promise.all(
        [processor, otherProcessor, processor, otherProcessor].map((s) =>
          t.http.post(`/api/v1/audio/${file.id}/claim`).set(s.auth),
        ),
      );
      const winners = new Set(
        results.filter((r) => r.status === 200).map((r) => (r.body as AudioBody).claimedBy),
      );
      expect(winners.size).toBe(1);
      expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
      expect((await get(file.id)).status).toBe('processing');
    });

    it('answers 409 while another holds the claim, and hands over a stale claim', async () => {
      const file = await uploadOne();
      await t.http.post(`/api/v1/audio/${file.id}/claim`).set(processor.auth).expect(200);
      const taken = await t.http.post(`/api/v1/audio/${file.id}/claim`).set(otherProcessor.auth);
      expect(taken.status).toBe(409);
      expect(taken.body.type).toMatch(/audio-claimed$/);
      await t.db.query(
        `UPDATE audio_files SET claimed_at = now() - interval '31 minutes' WHERE id = $1`,
        [file.id],
      );
      const stale = await t.http.post(`/api/v1/audio/${file.id}/claim`).set(otherProcessor.auth);
      expect(stale.status).toBe(200);
      expect(stale.body.claimedBy).toBe(otherProcessor.userId);
    });

    it('fails with an error message, refuses a second claim, and requeues', async () => {
      const file = await uploadOne();
      await t.http.post(`/api/v1/audio/${file.id}/claim`).set(processor.auth).expect(200);
      const notMine = await t.http
        .post(`/api/v1/audio/${file.id}/fail`)
        .set(otherProcessor.auth)
        .send({ error: 'x' });
      expect(notMine.status).toBe(409);
      const failed = await t.http
        .post(`/api/v1/audio/${file.id}/fail`)
        .set(processor.auth)
        .send({ error: 'unsupported codec' })
        .expect(200);
      expect(failed.body).toMatchObject({
        status: 'failed',
        errorMessage: 'unsupported codec',
        claimedBy: null,
      });
      expect((await t.http.post(`/api/v1/audio/${file.id}/claim`).set(processor.auth)).status).toBe(
        409,
      );
      const requeued = await t.http
        .post(`/api/v1/audio/${file.id}/requeue`)
        .set(worker.auth)
        .expect(200);
      expect(requeued.body).toMatchObject({ status: 'queued', errorMessage: null });
      expect((await t.http.post(`/api/v1/audio/${file.id}/requeue`).set(worker.auth)).status).toBe(
        409,
      );
    });

    it('validates bodies: unknown fields and missing error are 400', async () => {
      const file = await uploadOne();
      await t.http.post(`/api/v1/audio/${file.id}/fail`).set(processor.auth).send({}).expect(400);
      await t.http
        .post(`/api/v1/audio/${file.id}/archive`)
        .set(worker.auth)
        .send({ reason: 'x', storageKey: 'archive/x' })
        .expect(400);
    });
  });

  describe('jobs', () => {
    it('shows a job to its requester and to queues:admin only, with its outcome', async () => {
      const file = await uploadOne();
      const accepted = await t.http
        .post(`/api/v1/audio/${file.id}/archive`)
        .set(worker.auth)
        .send({ reason: 'closed' })
        .expect(202);
      const jobId = accepted.body.jobId as string;
      // A repeated request for the same state is the same job (deterministic id).
      const again = await t.http
        .post(`/api/v1/audio/${file.id}/archive`)
        .set(worker.auth)
        .send({ reason: 'closed' });
      expect([202, 409]).toContain(again.status);
      if (again.status === 202) expect(again.body.jobId).toBe(jobId);

      const job = await waitForJob(t.http, worker.auth, jobId);
      expect(job).toMatchObject({
        id: jobId,
        type: 'archive',
        state: 'completed',
        progress: 100,
        error: null,
      });
      expect(new Date(job.finishedAt!).getTime()).toBeGreaterThanOrEqual(
        new Date(job.createdAt).getTime(),
      );
      const stranger = await userSession(t.http, admin, 'case_worker');
      await t.http.get(`/api/v1/jobs/${jobId}`).set(stranger.auth).expect(404);
      await t.http.get(`/api/v1/jobs/${jobId}`).set(admin.auth).expect(200);
      await t.http.get('/api/v1/jobs/archive.nope').set(admin.auth).expect(404);
      await t.http.get('/api/v1/jobs/a:b').set(admin.auth).expect(404);
      await t.http.get(`/api/v1/jobs/${jobId}`).expect(401);

      const [usage] = await t.db.query<{ n: number }[]>(
        'SELECT coalesce(sum(jobs_succeeded), 0)::int AS n FROM usage_statistics WHERE user_id = $1',
        [worker.userId],
      );
      expect(usage!.n).toBeGreaterThanOrEqual(1);
    });

    it('never shows a finished job without its outcome, however the poll falls', async () => {
      const files = await Promise.all(Array.from({ length: 12 }, () => uploadOne()));
      const jobIds = await Promise.all(
        files.map(
          async (file) =>
            (await t.http.post(`/api/v1/audio/${file.id}/verify`).set(worker.auth).expect(202)).body
              .jobId as string,
        ),
      );
      // Polled back to back, with no pause, so some reads land while the job finishes.
      const finished = await Promise.all(
        jobIds.map(async (jobId) => {
          for (;;) {
            const job = (await t.http.get(`/api/v1/jobs/${jobId}`).set(worker.auth).expect(200))
              .body as { state: string; result: unknown; finishedAt: string | null };
            if (job.state === 'completed' || job.state === 'failed') return job;
          }
        }),
      );
      for (const job of finished) {
        expect(job).toMatchObject({ state: 'completed', result: { valid: true } });
        expect(job.finishedAt).not.toBeNull();
      }
    });

    it('mounts Bull Board at /admin/queues for queues:admin only (S5)', async () => {
      expect((await t.http.get('/admin/queues')).status).toBe(401);
      expect((await t.http.get('/admin/queues/api/queues')).status).toBe(401);
      const supervisor = await userSession(t.http, admin, 'supervisor');
      expect((await t.http.get('/admin/queues').set(worker.auth)).status).toBe(403);
      expect((await t.http.get('/admin/queues/api/queues').set(supervisor.auth)).status).toBe(403);
      const page = await t.http.get('/admin/queues').set(admin.auth);
      expect(page.status).toBe(200);
      expect(page.text).toMatch(/<html/i);
      const api = await t.http.get('/admin/queues/api/queues').set(admin.auth).expect(200);
      expect(JSON.stringify(api.body)).toContain(QueueName.AudioArchive);
    });

    it('lists audio statuses among the lookups', async () => {
      const lookups = await t.http.get('/api/v1/lookups').set(worker.auth).expect(200);
      expect(lookups.body.audioStatuses.map((s: { code: string }) => s.code).sort()).toEqual([
        'failed',
        'processed',
        'processing',
        'queued',
        'uploaded',
      ]);
      expect(lookups.body.activityTypes.map((a: { code: string }) => a.code)).toEqual(
        expect.arrayContaining([
          'audio.upload',
          'audio.download',
          'case.hold',
          'case.hold_release',
        ]),
      );
    });
  });

  describe('legal hold', () => {
    const holdOf = async (caseId: string) => {
      const [row] = await t.db.query<{ held: boolean; reason: string | null }[]>(
        'SELECT legal_hold_at IS NOT NULL AS held, legal_hold_reason AS reason FROM cases WHERE id = $1',
        [caseId],
      );
      return row!;
    };
    const heldCase = async (supervisor: Session): Promise<string> => {
      const caseId = await createCase(t.http, worker.auth);
      await t.http
        .post(`/api/v1/cases/${caseId}/hold`)
        .set(supervisor.auth)
        .send({ reason: 'litigation' })
        .expect(200);
      return caseId;
    };

    it('F-hold-delete-body: lifts a hold with ?reason= and no body at all, and audits the reason', async () => {
      const supervisor = await userSession(t.http, admin, 'supervisor');
      const caseId = await heldCase(supervisor);
      const lifted = await t.http
        .delete(`/api/v1/cases/${caseId}/hold`)
        .query({ reason: 'settled out of court' })
        .set(supervisor.auth)
        .expect(200);
      expect(lifted.body).toEqual({ caseId, legalHold: false, since: null, reason: null });
      expect(await holdOf(caseId)).toEqual({ held: false, reason: null });
      const [entry] = await t.db.query<{ details: { reason: string; heldFor: string } }[]>(
        `SELECT details FROM audit_logs WHERE action = 'case.hold_release' AND resource_id = $1`,
        [caseId],
      );
      expect(entry!.details).toMatchObject({
        reason: 'settled out of court',
        heldFor: 'litigation',
      });
    });

    it('still lifts a hold with the reason in a JSON body', async () => {
      const supervisor = await userSession(t.http, admin, 'supervisor');
      const caseId = await heldCase(supervisor);
      await t.http
        .delete(`/api/v1/cases/${caseId}/hold`)
        .set(supervisor.auth)
        .send({ reason: 'settled' })
        .expect(200);
      expect(await holdOf(caseId)).toEqual({ held: false, reason: null });
    });

    it.each([
      ['no reason at all', '', undefined],
      ['an empty ?reason=', '?reason=', undefined],
      ['a control character in ?reason=', '?reason=a%07b', undefined],
      ['two different reasons', '?reason=one', { reason: 'other' }],
      ['an unknown query parameter', '?reason=ok&force=1', undefined],
    ])('refuses %s with 400 and keeps the hold', async (_name, query, body) => {
      const supervisor = await userSession(t.http, admin, 'supervisor');
      const caseId = await heldCase(supervisor);
      const request = t.http.delete(`/api/v1/cases/${caseId}/hold${query}`).set(supervisor.auth);
      const problem = expectProblem(await (body ? request.send(body) : request), 400);
      expect(problem.type).toMatch(/validation-failed$/);
      expect(await holdOf(caseId)).toEqual({ held: true, reason: 'litigation' });
    });

    it('documents ?reason= on DELETE /cases/{id}/hold in the OpenAPI document', async () => {
      const document = (await t.http.get('/docs-json').expect(200)).body as {
        paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
      };
      const parameters = document.paths['/api/v1/cases/{id}/hold']!.delete!.parameters ?? [];
      expect(parameters.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(['reason']);
    });
  });

  describe('retention', () => {
    it('schedules a nightly sweep', async () => {
      const queue = t.app.get<Queue>(getQueueToken(QueueName.Retention), { strict: false });
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ key: RETENTION_SCHEDULER_ID, pattern: '0 3 * * *' }),
        ]),
      );
    });

    it('archives audio of long-closed cases, skips held cases, and releases stale claims', async () => {
      const supervisor = await userSession(t.http, admin, 'supervisor');
      const oldCase = await createCase(t.http, worker.auth, 'Old case');
      const heldCase = await createCase(t.http, worker.auth, 'Held case');
      const recentCase = await createCase(t.http, worker.auth, 'Recently closed');
      const old = await uploadOne(oldCase);
      const held = await uploadOne(heldCase);
      const recent = await uploadOne(recentCase);
      const claimed = await uploadOne();
      await t.http.post(`/api/v1/audio/${claimed.id}/claim`).set(processor.auth).expect(200);
      await t.db.query(
        `UPDATE audio_files SET claimed_at = now() - interval '2 hours' WHERE id = $1`,
        [claimed.id],
      );
      for (const id of [oldCase, heldCase, recentCase]) {
        await t.http.post(`/api/v1/cases/${id}/close`).set(worker.auth).expect(200);
      }
      await t.db.query(
        `UPDATE cases SET closed_at = now() - interval '100 days' WHERE id = ANY($1::uuid[])`,
        [[oldCase, heldCase]],
      );
      await t.http
        .post(`/api/v1/cases/${heldCase}/hold`)
        .set(supervisor.auth)
        .send({ reason: 'investigation' })
        .expect(200);

      const queue = t.app.get<Queue>(getQueueToken(QueueName.Retention), { strict: false });
      const sweep = await queue.add(
        RetentionJobName.Sweep,
        { requestedBy: null },
        { jobId: `sweep.test.${Date.now()}` },
      );
      const done = await waitForJob(t.http, admin.auth, sweep.id!);
      expect(done.state).toBe('completed');
      expect(done.result).toMatchObject({ claimsReleased: expect.any(Number) });

      const deadline = Date.now() + 30_000;
      while (!(await get(old.id)).isArchived && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await get(old.id)).isArchived).toBe(true);
      expect((await get(held.id)).isArchived).toBe(false);
      expect((await get(recent.id)).isArchived).toBe(false);
      expect(await get(claimed.id)).toMatchObject({ status: 'queued', claimedBy: null });
      // While the hold stands, deletion is refused too.
      await t.http.delete(`/api/v1/audio/${held.id}`).set(supervisor.auth).expect(409);
      const activity = await t.http
        .get(`/api/v1/cases/${heldCase}/activity`)
        .set(worker.auth)
        .expect(200);
      expect(activity.body.data.map((e: { action: string }) => e.action)).toContain('case.hold');
    });
  });
});

/**
 * TARGETS R6: closing the application (what SIGTERM does through the shutdown hooks)
 * while an archive job runs lets the job finish, or leaves it in the queue for the next
 * worker; it is never lost or left half done.
 */
describe('Graceful shutdown with a job in flight (TARGETS R6)', () => {
  it('finishes or re-queues the in-flight archive job', async () => {
    const storageRoot = await mkdtemp(join(tmpdir(), 'verbatim-storage-r6-'));
    const env = {
      STORAGE_LOCAL_ROOT: storageRoot,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX}-r6-${Date.now().toString(36)}`,
    };
    const first = await startApp(env);
    const admin = await loginAsAdmin(first.http);
    const caseId = await createCase(first.http, admin.auth);
    const large = await writeLargeWav(120 * 1024 * 1024);
    const uploaded = await uploadAudio(first, admin.auth, caseId, {
      content: { path: large.path },
    });
    expect(uploaded.status).toBe(201);
    const audioId = uploaded.body.id as string;
    const accepted = await first.http
      .post(`/api/v1/audio/${audioId}/archive`)
      .set(admin.auth)
      .send({ reason: 'r6' })
      .expect(202);
    const jobId = accepted.body.jobId as string;
    const queue = first.app.get<Queue>(getQueueToken(QueueName.AudioArchive), { strict: false });
    const deadline = Date.now() + 20_000;
    while ((await queue.getJobState(jobId)) !== 'active' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await first.close();

    const second = await startApp(env);
    try {
      const state = await second.app
        .get<Queue>(getQueueToken(QueueName.AudioArchive), { strict: false })
        .getJobState(jobId);
      expect(['completed', 'waiting', 'wait', 'delayed']).toContain(state);
      const session = await loginAsAdmin(second.http);
      const job = await waitForJob(second.http, session.auth, jobId);
      expect(job.state).toBe('completed');
      const file = await second.http.get(`/api/v1/audio/${audioId}`).set(session.auth).expect(200);
      expect(file.body.isArchived).toBe(true);
      const verify = await second.http
        .post(`/api/v1/audio/${audioId}/verify`)
        .set(session.auth)
        .expect(202);
      expect((await waitForJob(second.http, session.auth, verify.body.jobId)).result).toMatchObject(
        { valid: true },
      );
    } finally {
      await second.close();
      await rm(storageRoot, { recursive: true, force: true });
      await rm(large.path, { force: true });
    }
  }, 120_000);
});

describe('AUTO_QUEUE=false', () => {
  it('starts uploads as uploaded; requeue offers them to the engines', async () => {
    const t = await startAudioApp('noqueue', { AUTO_QUEUE: 'false' });
    try {
      const admin = await loginAsAdmin(t.http);
      const caseId = await createCase(t.http, admin.auth);
      const uploaded = await uploadAudio(t, admin.auth, caseId, { content: wavBuffer(1) });
      expect(uploaded.body.status).toBe('uploaded');
      const id = uploaded.body.id as string;
      expect((await t.http.post(`/api/v1/audio/${id}/claim`).set(admin.auth)).status).toBe(409);
      await t.http.post(`/api/v1/audio/${id}/requeue`).set(admin.auth).expect(200);
      expect((await t.http.post(`/api/v1/audio/${id}/claim`).set(admin.auth)).status).toBe(200);
      expect((await downloadAudio(t, admin.auth, id)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
