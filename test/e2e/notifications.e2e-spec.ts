import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DomainEvent } from '../../src/core/events/domain-event';
import { DomainEvents } from '../../src/core/events/domain-events';
import { QueueName } from '../../src/core/queue/queue-names';
import { AudioJobName } from '../../src/audio-files/audio-jobs';
import { NOTIFICATION_RETENTION_SCHEDULER_ID } from '../../src/notifications/notification-jobs';
import { NotificationRetentionService } from '../../src/notifications/notification-retention.service';
import { expectProblem, loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { startAudioApp, waitForJob } from '../support/audio';
import { openEventStream, portOf } from '../support/conversation-http';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';

interface Notification {
  id: string;
  type: string;
  title: string;
  resourceType: string;
  resourceId: string;
  caseId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
  readAt: string | null;
}

describe('Notifications (SPEC section 11)', () => {
  let t: TestApp & { storageRoot: string };
  let admin: Session;
  let processor: Session;

  beforeAll(async () => {
    t = await startAudioApp('notify');
    admin = await loginAsAdmin(t.http);
    processor = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  const list = async (session: Session, query = ''): Promise<Notification[]> =>
    (await t.http.get(`/api/v1/me/notifications${query}`).set(session.auth).expect(200)).body
      .data as Notification[];
  const ofType = async (session: Session, type: string) =>
    (await list(session, '?limit=100')).filter((n) => n.type === type);
  const addToCase = (lead: Session, caseId: string, userId: string, role = 'member') =>
    t.http
      .post(`/api/v1/cases/${caseId}/participants`)
      .set(lead.auth)
      .send({ userId, role })
      .expect(201);

  /** A case of `lead` with one uploaded audio file and `member` added to it. */
  async function caseWithMember() {
    const lead = await userSession(t.http, admin, 'case_worker');
    const member = await userSession(t.http, admin, 'case_worker');
    const file = await caseWithAudio(t, lead.auth);
    await addToCase(lead, file.caseId, member.userId);
    return { lead, member, ...file };
  }

  describe('who is notified', () => {
    it('transcription.created: the case participants and the uploader, never the engine (the actor)', async () => {
      const { lead, member, caseId, audioId } = await caseWithMember();
      const outsider = await userSession(t.http, admin, 'case_worker');
      const created = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('Hello there.'),
      }).expect(201);

      for (const session of [lead, member]) {
        const [notification] = await ofType(session, 'transcription.created');
        expect(notification).toEqual({
          id: expect.any(String),
          type: 'transcription.created',
          title: expect.stringContaining('Transcription v1 of'),
          resourceType: 'transcription',
          resourceId: created.body.id,
          caseId,
          data: expect.objectContaining({ audioFileId: audioId, version: 1 }),
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          readAt: null,
        });
      }
      expect(await ofType(processor, 'transcription.created')).toEqual([]);
      expect(await ofType(outsider, 'transcription.created')).toEqual([]);
    });

    it('transcription.failed: reported by the engine, told to the participants', async () => {
      const { lead, member, audioId } = await caseWithMember();
      await t.http.post(`/api/v1/audio/${audioId}/claim`).set(processor.auth).expect(200);
      await t.http
        .post(`/api/v1/audio/${audioId}/fail`)
        .set(processor.auth)
        .send({ error: 'engine crashed' })
        .expect(200);
      for (const session of [lead, member]) {
        const [failed] = await ofType(session, 'transcription.failed');
        expect(failed).toMatchObject({
          resourceType: 'audio',
          resourceId: audioId,
          data: { audioFileId: audioId, error: 'engine crashed' },
        });
      }
      expect(await ofType(processor, 'transcription.failed')).toEqual([]);
    });

    it('analysis.created: the participants hear of a new analysis', async () => {
      const { lead, audioId } = await caseWithMember();
      const transcription = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('Analyse me.'),
      }).expect(201);
      const analysis = await t.http
        .post(`/api/v1/transcriptions/${transcription.body.id}/analysis`)
        .set(processor.auth)
        .send({ engine: 'test-analyser', summary: 'short' })
        .expect(201);
      const [notification] = await ofType(lead, 'analysis.created');
      expect(notification).toMatchObject({
        resourceType: 'analysis',
        resourceId: analysis.body.id,
        data: { transcriptionId: transcription.body.id, version: 1 },
      });
    });

    it('case.participant_added: the added user and the other participants, not the one who added', async () => {
      const lead = await userSession(t.http, admin, 'case_worker');
      const first = await userSession(t.http, admin, 'case_worker');
      const second = await userSession(t.http, admin, 'case_worker');
      const caseId = (
        await t.http.post('/api/v1/cases').set(lead.auth).send({ title: 'Team' }).expect(201)
      ).body.id as string;
      await addToCase(lead, caseId, first.userId);
      await addToCase(lead, caseId, second.userId, 'viewer');

      const toSecond = await ofType(second, 'case.participant_added');
      expect(toSecond).toHaveLength(1);
      expect(toSecond[0]).toMatchObject({
        resourceType: 'case',
        resourceId: caseId,
        caseId,
        data: { userId: second.userId, role: 'viewer' },
      });
      expect((await ofType(first, 'case.participant_added')).map((n) => n.data.userId)).toEqual([
        second.userId,
        first.userId,
      ]);
      expect(await ofType(lead, 'case.participant_added')).toEqual([]);
    });

    it('conversation.ended: its participants, except whoever ended it', async () => {
      const owner = await userSession(t.http, admin, 'case_worker');
      const guest = await userSession(t.http, admin, 'case_worker');
      const conversation = await t.http
        .post('/api/v1/conversations')
        .set(owner.auth)
        .send({ name: `Call ${randomUUID()}` })
        .expect(201);
      const id = conversation.body.id as string;
      await t.http
        .post(`/api/v1/conversations/${id}/participants`)
        .set(owner.auth)
        .send({ userId: guest.userId, role: 'member' })
        .expect(201);
      await t.http.post(`/api/v1/conversations/${id}/end`).set(owner.auth).expect(200);
      const [ended] = await ofType(guest, 'conversation.ended');
      expect(ended).toMatchObject({
        resourceType: 'conversation',
        resourceId: id,
        data: { conversationId: id, reason: 'request' },
      });
      expect(await ofType(owner, 'conversation.ended')).toEqual([]);
    });

    it('audio.archived and audio.restored: job outcomes reach the requester and the case', async () => {
      const { lead, member, audioId } = await caseWithMember();
      const archive = await t.http
        .post(`/api/v1/audio/${audioId}/archive`)
        .set(lead.auth)
        .send({ reason: 'closed' })
        .expect(202);
      expect((await waitForJob(t.http, lead.auth, archive.body.jobId)).state).toBe('completed');
      const restore = await t.http
        .post(`/api/v1/audio/${audioId}/restore`)
        .set(member.auth)
        .expect(202);
      expect((await waitForJob(t.http, member.auth, restore.body.jobId)).state).toBe('completed');

      for (const session of [lead, member]) {
        const [archived] = await ofType(session, 'audio.archived');
        expect(archived).toMatchObject({
          resourceId: audioId,
          data: { requestedBy: lead.userId, reason: 'closed' },
        });
        const [restored] = await ofType(session, 'audio.restored');
        expect(restored).toMatchObject({
          resourceId: audioId,
          data: { requestedBy: member.userId },
        });
      }
    });

    it('audio.integrity_failed: a verify that finds changed bytes', async () => {
      const { lead, member, audioId } = await caseWithMember();
      const file = await t.http.get(`/api/v1/audio/${audioId}`).set(lead.auth).expect(200);
      const stored = await t.db.query<{ storage_key: string }[]>(
        `SELECT storage_key FROM audio_files WHERE id = $1`,
        [audioId],
      );
      await writeFile(
        join(t.storageRoot, stored[0]!.storage_key),
        Buffer.alloc(Number(file.body.sizeBytes ?? 100)),
      );
      const verify = await t.http
        .post(`/api/v1/audio/${audioId}/verify`)
        .set(lead.auth)
        .expect(202);
      await waitForJob(t.http, lead.auth, verify.body.jobId);
      for (const session of [lead, member]) {
        const [failed] = await ofType(session, 'audio.integrity_failed');
        expect(failed).toMatchObject({
          resourceType: 'audio',
          resourceId: audioId,
          data: { audioFileId: audioId, reason: expect.any(String) },
        });
      }
    });

    it('job.failed: a job that fails for good reaches its requester', async () => {
      const requester = await userSession(t.http, admin, 'case_worker');
      const queue = t.app.get<Queue>(getQueueToken(QueueName.AudioArchive));
      const missing = randomUUID();
      // A file gone before its job ran: the job fails at once, without retries.
      const job = await queue.add(
        AudioJobName.Archive,
        { audioId: missing, requestedBy: requester.userId },
        { attempts: 1 },
      );
      expect((await waitForJob(t.http, requester.auth, job.id!)).state).toBe('failed');
      let failed: Notification[] = [];
      for (let i = 0; i < 50 && failed.length === 0; i++) {
        failed = await ofType(requester, 'job.failed');
        if (failed.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(failed).toEqual([
        expect.objectContaining({
          resourceType: 'audio',
          resourceId: missing,
          caseId: null,
          data: expect.objectContaining({ jobId: job.id, jobName: 'archive' }),
        }),
      ]);
    });
  });

  describe('a muted type is not stored', () => {
    it('notifications.muted drops that type for that user only', async () => {
      const { lead, member, audioId } = await caseWithMember();
      await t.http
        .put('/api/v1/me/settings/notifications.muted')
        .set(member.auth)
        .send({ value: ['transcription.created'] })
        .expect(200);
      await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('Muted.'),
      }).expect(201);
      expect(await ofType(lead, 'transcription.created')).toHaveLength(1);
      expect(await ofType(member, 'transcription.created')).toEqual([]);
      const stored = await t.db.query(
        `SELECT 1 FROM notifications WHERE user_id = $1 AND type = 'transcription.created'`,
        [member.userId],
      );
      expect(stored).toEqual([]);
      // Other types still arrive.
      expect(await ofType(member, 'case.participant_added')).toHaveLength(1);
    });
  });

  describe('written in the transaction of the change', () => {
    const event = (userId: string, title: string): DomainEvent => ({
      type: 'job.failed',
      actorId: null,
      caseId: null,
      resourceType: 'audio',
      resourceId: randomUUID(),
      title,
      notifyOnly: [userId],
      data: {},
      occurredAt: new Date(),
    });

    it('a rolled-back change leaves no notification, in the table or on the stream', async () => {
      const user = await userSession(t.http, admin, 'case_worker');
      const stream = await openEventStream(portOf(t), '/api/v1/me/notifications/stream', user.auth);
      expect(stream.status).toBe(200);
      try {
        const events = t.app.get(DomainEvents);
        await expect(
          t.db.transaction(async (manager) => {
            await events.publish(event(user.userId, 'rolled back'), manager);
            // The subscriber wrote inside this transaction: visible here…
            const inside = await manager.query(`SELECT 1 FROM notifications WHERE user_id = $1`, [
              user.userId,
            ]);
            expect(inside).toHaveLength(1);
            throw new Error('the change fails after publishing');
          }),
        ).rejects.toThrow('the change fails after publishing');
        expect(await list(user)).toEqual([]);

        await t.db.transaction((manager) =>
          events.publish(event(user.userId, 'committed'), manager),
        );
        const [first] = await stream.waitFor(1);
        expect(first!.event).toBe('job.failed');
        expect(JSON.parse(first!.data)).toMatchObject({ title: 'committed' });
        expect((await list(user)).map((n) => n.title)).toEqual(['committed']);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(stream.events).toHaveLength(1);
      } finally {
        stream.close();
      }
    });
  });

  describe('reading and marking', () => {
    async function userWithNotifications(count: number): Promise<Session> {
      const user = await userSession(t.http, admin, 'case_worker');
      const events = t.app.get(DomainEvents);
      for (let i = 0; i < count; i++) {
        await t.db.transaction((manager) =>
          events.publish(
            {
              type: 'job.failed',
              actorId: null,
              caseId: null,
              resourceType: 'audio',
              resourceId: randomUUID(),
              title: `n${i}`,
              notifyOnly: [user.userId],
              data: { i },
              occurredAt: new Date(),
            },
            manager,
          ),
        );
      }
      return user;
    }

    it('lists newest first with a cursor, filters unread, counts, marks one and all read', async () => {
      const user = await userWithNotifications(5);
      const first = await t.http.get('/api/v1/me/notifications?limit=2').set(user.auth).expect(200);
      expect(first.body.data.map((n: Notification) => n.title)).toEqual(['n4', 'n3']);
      expect(first.body.meta.nextCursor).toBe(first.body.data[1].id);
      const second = await t.http
        .get(`/api/v1/me/notifications?limit=2&after=${first.body.meta.nextCursor}`)
        .set(user.auth)
        .expect(200);
      expect(second.body.data.map((n: Notification) => n.title)).toEqual(['n2', 'n1']);
      const last = await t.http
        .get(`/api/v1/me/notifications?limit=2&after=${second.body.meta.nextCursor}`)
        .set(user.auth)
        .expect(200);
      expect(last.body.data.map((n: Notification) => n.title)).toEqual(['n0']);
      expect(last.body.meta.nextCursor).toBeNull();

      const count = () =>
        t.http.get('/api/v1/me/notifications/unread-count').set(user.auth).expect(200);
      expect((await count()).body).toEqual({ count: 5 });

      const target = first.body.data[0] as Notification;
      const read = await t.http
        .post(`/api/v1/me/notifications/${target.id}/read`)
        .set(user.auth)
        .expect(200);
      expect(read.body).toMatchObject({ id: target.id, readAt: expect.any(String) });
      const again = await t.http
        .post(`/api/v1/me/notifications/${target.id}/read`)
        .set(user.auth)
        .expect(200);
      expect(again.body.readAt).toBe(read.body.readAt);
      expect((await count()).body).toEqual({ count: 4 });
      expect((await list(user, '?unread=true')).map((n) => n.title)).toEqual([
        'n3',
        'n2',
        'n1',
        'n0',
      ]);

      const all = await t.http.post('/api/v1/me/notifications/read-all').set(user.auth).expect(200);
      expect(all.body).toEqual({ count: 4 });
      expect((await count()).body).toEqual({ count: 0 });
      expect(await list(user, '?unread=true')).toEqual([]);
      expect(await list(user)).toHaveLength(5);
    });

    it('refuses a bad cursor or filter with 400 and an unknown id with 404', async () => {
      const user = await userWithNotifications(1);
      expectProblem(
        await t.http.get(`/api/v1/me/notifications?after=${randomUUID()}`).set(user.auth),
        400,
      );
      expectProblem(await t.http.get('/api/v1/me/notifications?after=12').set(user.auth), 400);
      expectProblem(await t.http.get('/api/v1/me/notifications?unread=maybe').set(user.auth), 400);
      expectProblem(
        await t.http.post(`/api/v1/me/notifications/${randomUUID()}/read`).set(user.auth),
        404,
      );
    });

    it("follows the user's pageSize setting as the default limit", async () => {
      const user = await userWithNotifications(3);
      await t.http
        .put('/api/v1/me/settings/pageSize')
        .set(user.auth)
        .send({ value: 2 })
        .expect(200);
      expect(await list(user)).toHaveLength(2);
    });

    it('streams each committed notification with the type as event name, resumable with Last-Event-ID', async () => {
      const user = await userSession(t.http, admin, 'case_worker');
      const lead = await userSession(t.http, admin, 'case_worker');
      const stream = await openEventStream(portOf(t), '/api/v1/me/notifications/stream', user.auth);
      let lastId: string;
      try {
        expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
        const caseId = (
          await t.http.post('/api/v1/cases').set(lead.auth).send({ title: 'Live' }).expect(201)
        ).body.id as string;
        await addToCase(lead, caseId, user.userId);
        const [added] = await stream.waitFor(1);
        expect(added!.event).toBe('case.participant_added');
        expect(JSON.parse(added!.data)).toMatchObject({ caseId, data: { userId: user.userId } });
        lastId = added!.id;
      } finally {
        stream.close();
      }
      // Something happens while the client is away; it resumes from the last id it saw.
      const other = await t.http.post('/api/v1/cases').set(lead.auth).send({ title: 'Later' });
      await addToCase(lead, other.body.id as string, user.userId);
      const resumed = await openEventStream(portOf(t), '/api/v1/me/notifications/stream', {
        ...user.auth,
        'last-event-id': lastId,
      });
      try {
        const [missed] = await resumed.waitFor(1);
        expect(JSON.parse(missed!.data)).toMatchObject({ caseId: other.body.id });
      } finally {
        resumed.close();
      }
    });
  });

  describe("no user reads, marks or streams another user's notifications (S13)", () => {
    it('holds for every route', async () => {
      const { lead: alice, audioId } = await caseWithMember();
      const bob = await userSession(t.http, admin, 'supervisor'); // sees every case
      const bobStream = await openEventStream(
        portOf(t),
        '/api/v1/me/notifications/stream',
        bob.auth,
      );
      try {
        await postTranscription(t.http, processor.auth, audioId, {
          segments: simpleSegments('Private.'),
        }).expect(201);
        const [mine] = await ofType(alice, 'transcription.created');
        expect(mine).toBeDefined();

        expect((await list(bob)).map((n) => n.id)).not.toContain(mine!.id);
        expectProblem(
          await t.http.post(`/api/v1/me/notifications/${mine!.id}/read`).set(bob.auth),
          404,
        );
        expectProblem(
          await t.http.get(`/api/v1/me/notifications?after=${mine!.id}`).set(bob.auth),
          400,
        );
        await t.http.post('/api/v1/me/notifications/read-all').set(bob.auth).expect(200);
        const aliceUnread = await ofType(alice, 'transcription.created');
        expect(aliceUnread[0]!.readAt).toBeNull();
        // Bob's stream carried nothing of Alice's.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(bobStream.events.map((e) => JSON.parse(e.data).id)).not.toContain(mine!.id);
        // Nor settings: there is no route naming another user except the admin one.
        expectProblem(
          await t.http.get(`/api/v1/users/${alice.userId}/settings`).set(bob.auth),
          403,
        );
      } finally {
        bobStream.close();
      }
    });
  });

  describe('retention', () => {
    it('deletes notifications read more than NOTIFICATION_RETENTION_DAYS ago, keeps unread ones, on an hourly scheduler', async () => {
      const user = await userSession(t.http, admin, 'case_worker');
      const events = t.app.get(DomainEvents);
      for (const title of ['old-read', 'recent-read', 'old-unread']) {
        await t.db.transaction((manager) =>
          events.publish(
            {
              type: 'job.failed',
              actorId: null,
              caseId: null,
              resourceType: 'audio',
              resourceId: randomUUID(),
              title,
              notifyOnly: [user.userId],
              data: {},
              occurredAt: new Date(Date.now() - 200 * 86_400_000),
            },
            manager,
          ),
        );
      }
      await t.db.query(
        `UPDATE notifications SET read_at = now() - interval '91 days' WHERE user_id = $1 AND title = 'old-read'`,
        [user.userId],
      );
      await t.db.query(
        `UPDATE notifications SET read_at = now() - interval '89 days' WHERE user_id = $1 AND title = 'recent-read'`,
        [user.userId],
      );
      expect(await t.app.get(NotificationRetentionService).purgeRead()).toBeGreaterThanOrEqual(1);
      expect((await list(user)).map((n) => n.title).sort()).toEqual(['old-unread', 'recent-read']);

      const queue = t.app.get<Queue>(getQueueToken(QueueName.NotificationRetention));
      const scheduler = await queue.getJobScheduler(NOTIFICATION_RETENTION_SCHEDULER_ID);
      expect(scheduler).toMatchObject({ every: 3_600_000 });
    });
  });
});
