import { getQueueToken } from '@nestjs/bullmq';
import { Job, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIM_RELEASE_SCHEDULER_ID, RetentionJobName } from '../../src/audio-files/audio-jobs';
import { TestClock } from '../../src/core/clock/clock';
import { QueueName } from '../../src/core/queue/queue-names';
import {
  expectProblem,
  login,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';

interface AudioView {
  status: string;
  claimedBy: string | null;
  claimedAt: string | null;
  progress: { percent: number; stage: string | null; updatedAt: string } | null;
}

/**
 * Engine progress (SPEC section 11): the processor holding a claim reports
 * `{ percent, stage? }`, shown as `progress` on the audio; a report renews the claim; a
 * claim with no progress or result for CLAIM_TIMEOUT_MINUTES returns to `queued` within a
 * minute through a repeatable job, audited as `audio.claim_expired`.
 *
 * A database, storage and queues of its own, with time on a TestClock: the release takes
 * every claim that looks stale to this app's (advanced) clock.
 */
describe('Engine progress and stale claims (SPEC section 11)', () => {
  const TIMEOUT_MINUTES = 30;
  const clock = new TestClock();
  let database: { url: string; drop: () => Promise<void> };
  let storageRoot: string;
  let t: TestApp;
  let queue: Queue;
  let admin: Session;
  let worker: Session & { user: { username: string; password: string } };
  let engineA: Session & { user: { username: string; password: string } };
  let engineB: Session & { user: { username: string; password: string } };

  beforeAll(async () => {
    database = await isolatedDatabase('progress');
    storageRoot = await mkdtemp(join(tmpdir(), 'verbatim-storage-progress-'));
    t = await startApp(
      {
        DATABASE_URL: database.url,
        STORAGE_LOCAL_ROOT: storageRoot,
        REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-progress`,
        CLAIM_TIMEOUT_MINUTES: String(TIMEOUT_MINUTES),
        CLAIM_SWEEP_SECONDS: '60',
      },
      { clock },
    );
    queue = t.app.get<Queue>(getQueueToken(QueueName.Retention), { strict: false });
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
    engineA = await userSession(t.http, admin, 'processor');
    engineB = await userSession(t.http, admin, 'processor');
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
    if (storageRoot) await rm(storageRoot, { recursive: true, force: true });
  });

  /** Moves the app's time on; signs everyone in again, since access tokens expire. */
  async function advance(minutes: number): Promise<void> {
    clock.advance(minutes * 60_000);
    admin = await loginAsAdmin(t.http);
    for (const session of [worker, engineA, engineB]) {
      Object.assign(session, await login(t.http, session.user.username, session.user.password));
    }
  }

  /** Runs the job the scheduler runs, in the app's worker; the ids it released. */
  async function release(): Promise<string[]> {
    const job = await queue.add(RetentionJobName.ReleaseClaims, { requestedBy: null });
    for (let i = 0; i < 400; i++) {
      const state = await job.getState();
      if (state === 'completed')
        return ((await Job.fromId(queue, job.id!))!.returnvalue as { released: string[] }).released;
      if (state === 'failed') throw new Error(`release failed: ${job.failedReason}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('release did not finish');
  }

  const get = async (id: string): Promise<AudioView> =>
    (await t.http.get(`/api/v1/audio/${id}`).set(admin.auth).expect(200)).body as AudioView;

  const claim = (session: Session, id: string) =>
    t.http.post(`/api/v1/audio/${id}/claim`).set(session.auth);

  const report = (session: Session, id: string, body: Record<string, unknown>) =>
    t.http.post(`/api/v1/audio/${id}/progress`).set(session.auth).send(body);

  const queuedAudio = async (): Promise<string> => (await caseWithAudio(t, worker.auth)).audioId;

  describe('POST /audio/:id/progress', () => {
    it('stores the claimant’s report, shows it on the audio and renews the claim', async () => {
      const id = await queuedAudio();
      expect((await get(id)).progress).toBeNull();
      const claimed = (await claim(engineA, id).expect(200)).body as AudioView;
      expect(claimed.progress).toBeNull();

      await advance(5);
      const response = await report(engineA, id, { percent: 42.5, stage: 'diarization' });
      expect(response.status).toBe(200);
      const body = response.body as AudioView;
      expect(body.progress).toEqual({
        percent: 42.5,
        stage: 'diarization',
        updatedAt: expect.any(String),
      });
      expect(Math.abs(Date.parse(body.progress!.updatedAt) - clock.nowMs())).toBeLessThan(5_000);
      // The claim is renewed to the report's time.
      expect(body.claimedAt).toBe(body.progress!.updatedAt);
      expect(Date.parse(body.claimedAt!)).toBeGreaterThan(Date.parse(claimed.claimedAt!));
      expect((await get(id)).progress).toEqual(body.progress);

      // Without a stage: the stage is cleared, not kept from the last report.
      const later = (await report(engineA, id, { percent: 60 }).expect(200)).body as AudioView;
      expect(later.progress).toMatchObject({ percent: 60, stage: null });
    });

    it('answers 409 to another processor, and leaves the claim and progress alone', async () => {
      const id = await queuedAudio();
      await claim(engineA, id).expect(200);
      await report(engineA, id, { percent: 10 }).expect(200);
      const before = await get(id);
      const problem = expectProblem(await report(engineB, id, { percent: 90 }), 409);
      expect(problem.type).toMatch(/audio-claimed$/);
      expect(await get(id)).toEqual(before);
    });

    it('answers 403 to a caller without transcriptions:write', async () => {
      const id = await queuedAudio();
      await claim(engineA, id).expect(200);
      expectProblem(await report(worker, id, { percent: 50 }), 403);
    });

    it('answers 409 when the file is not being processed (not claimed, or done)', async () => {
      const id = await queuedAudio();
      const unclaimed = expectProblem(await report(engineA, id, { percent: 5 }), 409);
      expect(unclaimed.type).toMatch(/audio-wrong-status$/);

      await claim(engineA, id).expect(200);
      await report(engineA, id, { percent: 99, stage: 'finishing' }).expect(200);
      await postTranscription(t.http, engineA.auth, id, {
        segments: simpleSegments('Done.'),
      }).expect(201);
      // The result ends the claim and its progress.
      expect(await get(id)).toMatchObject({ status: 'processed', claimedBy: null, progress: null });
      expectProblem(await report(engineA, id, { percent: 100 }), 409);
    });

    it('answers 404 for an unknown file', async () => {
      expectProblem(await report(engineA, randomUUID(), { percent: 5 }), 404);
    });

    it.each([
      ['a percent above 100', { percent: 100.5 }],
      ['a negative percent', { percent: -1 }],
      ['a percent as text', { percent: '50' }],
      ['no percent', { stage: 'decoding' }],
      ['an empty stage', { percent: 5, stage: '' }],
      ['a stage over 64 characters', { percent: 5, stage: 'x'.repeat(65) }],
      ['an unknown field', { percent: 5, eta: 30 }],
    ])('refuses %s with 400', async (_name, body) => {
      const id = await queuedAudio();
      await claim(engineA, id).expect(200);
      const problem = expectProblem(await report(engineA, id, body), 400);
      expect(problem.type).toMatch(/validation-failed$/);
      expect((await get(id)).progress).toBeNull();
    });

    it('accepts 0 and 100', async () => {
      const id = await queuedAudio();
      await claim(engineA, id).expect(200);
      await report(engineA, id, { percent: 0 }).expect(200);
      await report(engineA, id, { percent: 100, stage: 'uploading result' }).expect(200);
    });
  });

  describe('stale claims', () => {
    it('schedules the release every minute', async () => {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            key: CLAIM_RELEASE_SCHEDULER_ID,
            name: RetentionJobName.ReleaseClaims,
            every: 60_000,
          }),
        ]),
      );
    });

    it('returns a claim with no progress or result for the timeout to queued, audited; a reporting engine keeps its claim', async () => {
      // The scheduler may run the same job meanwhile (same app clock): states, not the
      // job's return value, are what this test asserts.
      const silent = await queuedAudio();
      const reporting = await queuedAudio();
      await claim(engineA, silent).expect(200);
      await claim(engineB, reporting).expect(200);

      await advance(TIMEOUT_MINUTES - 10);
      await report(engineB, reporting, { percent: 30, stage: 'decoding' }).expect(200);
      // Not stale yet: nothing is released.
      await release();
      expect(await get(silent)).toMatchObject({ status: 'processing', claimedBy: engineA.userId });

      await advance(11); // `silent`: 31 minutes without a word; `reporting`: 11 since its report.
      await release();
      expect(await get(silent)).toMatchObject({
        status: 'queued',
        claimedBy: null,
        claimedAt: null,
        progress: null,
      });
      expect(await get(reporting)).toMatchObject({
        status: 'processing',
        claimedBy: engineB.userId,
        progress: { percent: 30, stage: 'decoding' },
      });

      const audit = await t.http
        .get('/api/v1/audit')
        .query({ action: 'audio.claim_expired', resourceId: silent })
        .set(admin.auth)
        .expect(200);
      expect(audit.body.data).toEqual([
        expect.objectContaining({
          action: 'audio.claim_expired',
          actorId: null,
          resourceType: 'audio',
          resourceId: silent,
          outcome: 'success',
          details: { claimedBy: engineA.userId },
        }),
      ]);

      // The released file is anyone's again; the engine that fell silent lost it.
      expectProblem(await report(engineA, silent, { percent: 50 }), 409);
      await claim(engineB, silent).expect(200);

      // The reporting engine falls silent too: its claim goes once the timeout has passed
      // since its last report, not since its claim.
      await advance(TIMEOUT_MINUTES - 20); // 21 minutes since the report
      await release();
      expect((await get(reporting)).status).toBe('processing');
      await advance(10); // 31 minutes since the report; `silent` was claimed 20 minutes ago
      await release();
      expect(await get(reporting)).toMatchObject({ status: 'queued', progress: null });
      expect(await get(silent)).toMatchObject({ status: 'processing', claimedBy: engineB.userId });
    });

    it('releases within a minute without anyone asking: the scheduler runs the job', async () => {
      const id = await queuedAudio();
      await claim(engineA, id).expect(200);
      await advance(TIMEOUT_MINUTES + 1);
      const deadline = Date.now() + 75_000;
      while ((await get(id)).status !== 'queued' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect((await get(id)).status).toBe('queued');
    }, 90_000);
  });
});
