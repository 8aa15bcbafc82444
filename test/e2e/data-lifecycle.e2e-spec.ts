import { getQueueToken } from '@nestjs/bullmq';
import { Job, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClock } from '../../src/core/clock/clock';
import { QueueName } from '../../src/core/queue/queue-names';
import { MaintenanceJobName, MAINTENANCE_SCHEDULERS } from '../../src/maintenance/maintenance-jobs';
import { loginAsAdmin, Session, startApp, TestApp } from '../support/app';
import { createCase, uploadAudio, wavBuffer } from '../support/audio';
import { isolatedDatabase } from '../support/isolated-database';
import { createConversation, eventually, turn } from '../support/turns';

const DAY = 24 * 3600 * 1000;
const HOUR = 3600 * 1000;

/**
 * The data lifecycle (SPEC section 12) run by the worker's `maintenance` queue: storage
 * check, purge of long-deleted cases, scheduled backups, and the figures `/stats/system`
 * and `/metrics` report. A database, storage root, backup directory and Redis prefix of
 * its own: the check and the purge judge everything they see, and time moves on a
 * TestClock.
 */
describe('Data lifecycle (SPEC section 12)', () => {
  const clock = new TestClock();
  let database: { url: string; drop: () => Promise<void> };
  let storageRoot: string;
  let backupDir: string;
  let t: TestApp;
  let admin: Session;
  let queue: Queue;

  beforeAll(async () => {
    database = await isolatedDatabase('lifecycle');
    storageRoot = await mkdtemp(join(tmpdir(), 'verbatim-lifecycle-storage-'));
    backupDir = await mkdtemp(join(tmpdir(), 'verbatim-lifecycle-backups-'));
    t = await startApp(
      {
        DATABASE_URL: database.url,
        STORAGE_LOCAL_ROOT: storageRoot,
        REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-lifecycle`,
        MAINTENANCE_CRON: '30 3 * * *',
        BACKUP_SCHEDULE: '0 2 * * *',
        BACKUP_DIR: backupDir,
        BACKUP_KEEP: '2',
        CASE_PURGE_DAYS: '30',
      },
      { clock },
    );
    admin = await loginAsAdmin(t.http);
    queue = t.app.get<Queue>(getQueueToken(QueueName.Maintenance));
  });

  afterAll(async () => {
    await t?.close();
    await database?.drop();
    await rm(storageRoot, { recursive: true, force: true });
    await rm(backupDir, { recursive: true, force: true });
  });

  /** Runs one job as its scheduler would, in the app's worker; its return value. */
  async function run<T>(
    name: MaintenanceJobName,
  ): Promise<{ ok: boolean; value: T; reason: string }> {
    const job = await queue.add(name, { requestedBy: null }, { attempts: 1 });
    for (let i = 0; i < 1200; i++) {
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        const done = (await Job.fromId(queue, job.id!))!;
        return {
          ok: state === 'completed',
          value: done.returnvalue as T,
          reason: done.failedReason,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${name} did not finish`);
  }

  async function upload(caseId: string): Promise<{ id: string; storageKey: string }> {
    const response = await uploadAudio(t, admin.auth, caseId, { content: wavBuffer(1) });
    expect(response.status).toBe(201);
    const id = response.body.id as string;
    const [row] = await t.db.query<{ storage_key: string }[]>(
      'SELECT storage_key FROM audio_files WHERE id = $1',
      [id],
    );
    return { id, storageKey: row!.storage_key };
  }

  async function makeOld(path: string): Promise<void> {
    const then = new Date(clock.now().getTime() - 2 * HOUR);
    await utimes(path, then, then);
  }

  const auditOf = (action: string) =>
    t.db.query<{ resource_id: string; details: Record<string, unknown>; outcome: string }[]>(
      'SELECT resource_id, details, outcome FROM audit_logs WHERE action = $1 ORDER BY id',
      [action],
    );

  describe('schedules', () => {
    it('runs the storage check and purge on MAINTENANCE_CRON and backups on BACKUP_SCHEDULE', async () => {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            key: MAINTENANCE_SCHEDULERS[MaintenanceJobName.StorageCheck],
            pattern: '30 3 * * *',
          }),
          expect.objectContaining({
            key: MAINTENANCE_SCHEDULERS[MaintenanceJobName.Purge],
            pattern: '30 3 * * *',
          }),
          expect.objectContaining({
            key: MAINTENANCE_SCHEDULERS[MaintenanceJobName.Backup],
            pattern: '0 2 * * *',
          }),
        ]),
      );
    });
  });

  describe('storage check', () => {
    let caseId: string;
    let kept: { id: string; storageKey: string };
    let lost: { id: string; storageKey: string };
    let orphanKey: string;
    let youngOrphanKey: string;
    let leftover: string;

    beforeAll(async () => {
      caseId = await createCase(t.http, admin.auth, 'Storage check case');
      kept = await upload(caseId);
      lost = await upload(caseId);
      await rm(join(storageRoot, lost.storageKey));
      // An object whose audio id has no row, written two hours ago; and one written just now.
      orphanKey = `cases/${caseId}/${randomUUID()}.wav`;
      youngOrphanKey = `cases/${caseId}/${randomUUID()}.wav`;
      for (const key of [orphanKey, youngOrphanKey]) {
        await writeFile(join(storageRoot, key), wavBuffer(1));
      }
      await makeOld(join(storageRoot, orphanKey));
      // What an interrupted write leaves: the temporary file beside its key.
      leftover = join(storageRoot, `cases/${caseId}/${randomUUID()}.wav.partial-0123456789ab`);
      await writeFile(leftover, Buffer.alloc(1000));
      await makeOld(leftover);
      await writeFile(`${leftover.slice(0, -12)}ba9876543210`, Buffer.alloc(10)); // young
    });

    it('reports orphans older than an hour, missing objects and leftovers, and fixes them', async () => {
      const { ok, value } = await run<{
        objects: number;
        orphans: { count: number; removed: number; keys: string[] };
        missing: { count: number; marked: number; ids: string[] };
        leftovers: { count: number; removed: number };
      }>(MaintenanceJobName.StorageCheck);
      expect(ok).toBe(true);
      expect(value.orphans).toMatchObject({ count: 1, removed: 1, keys: [orphanKey] });
      expect(value.missing).toMatchObject({ count: 1, marked: 1, ids: [lost.id] });
      expect(value.leftovers).toEqual({ count: 1, removed: 1 });

      expect(existsSync(join(storageRoot, orphanKey))).toBe(false);
      expect(existsSync(join(storageRoot, youngOrphanKey))).toBe(true);
      expect(existsSync(join(storageRoot, kept.storageKey))).toBe(true);
      expect(existsSync(leftover)).toBe(false);
    });

    it('marks a row whose object is missing failed with reason "missing", audited once', async () => {
      const missing = await t.http.get(`/api/v1/audio/${lost.id}`).set(admin.auth).expect(200);
      expect(missing.body).toMatchObject({ status: 'failed', errorMessage: 'missing' });
      const ok = await t.http.get(`/api/v1/audio/${kept.id}`).set(admin.auth).expect(200);
      expect(ok.body.status).not.toBe('failed');

      // A second run finds it again but does not mark or audit it twice.
      const again = await run<{ missing: { count: number; marked: number } }>(
        MaintenanceJobName.StorageCheck,
      );
      expect(again.value.missing).toEqual(expect.objectContaining({ count: 1, marked: 0 }));
      const audits = await auditOf('audio.storage_missing');
      expect(audits.map((a) => a.resource_id)).toEqual([lost.id]);
      expect(audits[0]!.outcome).toBe('failure');
      const checks = await auditOf('storage.check');
      expect(checks).toHaveLength(1);
      expect(checks[0]!.details).toMatchObject({ orphansRemoved: 1, leftoversRemoved: 1 });
    });

    it('shows the last result in /stats/system and /metrics', async () => {
      const stats = await t.http.get('/api/v1/stats/system').set(admin.auth).expect(200);
      const storage = stats.body.storage as {
        objects: number;
        bytes: number;
        lastCheck: { at: string; orphans: number; missing: number; leftovers: number };
      };
      expect(storage.objects).toBe(2); // kept + the young orphan
      expect(storage.bytes).toBe(2 * wavBuffer(1).length);
      expect(storage.lastCheck).toMatchObject({ orphans: 0, missing: 1, leftovers: 0 });
      const metrics = await t.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^verbatim_storage_objects 2$/m);
      expect(metrics.text).toMatch(new RegExp(`^verbatim_storage_bytes ${storage.bytes}$`, 'm'));
    });
  });

  describe('monitoring figures', () => {
    it('reports database and table sizes and Redis memory in /stats/system and /metrics', async () => {
      const stats = await t.http.get('/api/v1/stats/system').set(admin.auth).expect(200);
      const body = stats.body as {
        database: {
          sizeBytes: number;
          tables: Record<string, { rows: number; totalBytes: number }>;
        };
        redis: { usedMemoryBytes: number; maxMemoryBytes: number };
      };
      expect(body.database.sizeBytes).toBeGreaterThan(1_000_000);
      // Partitioned tables are reported once, under their own name.
      expect(body.database.tables.turns).toEqual({
        rows: expect.any(Number),
        totalBytes: expect.any(Number),
      });
      expect(body.database.tables.audit_logs!.totalBytes).toBeGreaterThan(0);
      expect(Object.keys(body.database.tables).some((name) => name.startsWith('turns_'))).toBe(
        false,
      );
      expect(body.redis.usedMemoryBytes).toBeGreaterThan(0);
      expect(body.redis.maxMemoryBytes).toBeGreaterThanOrEqual(0);

      const metrics = (await t.http.get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/^verbatim_database_size_bytes \d+/m);
      expect(metrics).toMatch(/^verbatim_table_size_bytes\{table="audit_logs"\} \d+/m);
      expect(metrics).toMatch(/^verbatim_table_rows_estimate\{table="turns"\} \d+/m);
      expect(metrics).toMatch(/^verbatim_redis_memory_bytes\{kind="used"\} [1-9]\d*/m);
    });
  });

  describe('purge of deleted cases', () => {
    it('deletes the audio and turns of cases deleted CASE_PURGE_DAYS ago, unless held', async () => {
      const doomed = await createCase(t.http, admin.auth, 'Purged case');
      const held = await createCase(t.http, admin.auth, 'Held case');
      const recent = await createCase(t.http, admin.auth, 'Recently deleted case');
      const audio = {
        doomed: await upload(doomed),
        held: await upload(held),
        recent: await upload(recent),
      };
      const conversation = await createConversation(t.http, admin, { caseId: doomed });
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send({ turns: [1, 2, 3].map((n) => turn(n)) })
        .expect(202);
      const countTurns = async () =>
        Number(
          (
            await t.db.query<{ n: string }[]>(
              'SELECT count(*) AS n FROM turns WHERE conversation_id = $1',
              [conversation.id],
            )
          )[0]!.n,
        );
      expect(await eventually(countTurns, (n) => n === 3)).toBe(3);

      for (const id of [doomed, held]) {
        await t.http.delete(`/api/v1/cases/${id}`).set(admin.auth).expect(204);
      }
      // A hold placed on a deleted case (by an operator, say) still protects it.
      await t.db.query('UPDATE cases SET legal_hold_at = now() WHERE id = $1', [held]);
      clock.advance(31 * DAY);
      admin = await loginAsAdmin(t.http);
      await t.http.delete(`/api/v1/cases/${recent}`).set(admin.auth).expect(204);

      const { ok, value } = await run<{
        audioDeleteJobs: number;
        conversations: number;
        turnsDeleted: number;
      }>(MaintenanceJobName.Purge);
      expect(ok).toBe(true);
      expect(value).toMatchObject({ audioDeleteJobs: 1, conversations: 1, turnsDeleted: 3 });
      expect(await countTurns()).toBe(0);

      const deletedAt = async (id: string) =>
        (
          await t.db.query<{ deleted_at: Date | null }[]>(
            'SELECT deleted_at FROM audio_files WHERE id = $1',
            [id],
          )
        )[0]!.deleted_at;
      expect(
        await eventually(
          () => deletedAt(audio.doomed.id),
          (at) => at !== null,
        ),
      ).not.toBeNull();
      await eventually(
        () => Promise.resolve(existsSync(join(storageRoot, audio.doomed.storageKey))),
        (present) => !present,
      );
      expect(existsSync(join(storageRoot, audio.doomed.storageKey))).toBe(false);
      expect(await deletedAt(audio.held.id)).toBeNull();
      expect(existsSync(join(storageRoot, audio.held.storageKey))).toBe(true);
      expect(await deletedAt(audio.recent.id)).toBeNull();

      const purges = await auditOf('conversation.turns_purge');
      expect(purges).toEqual([
        expect.objectContaining({ resource_id: conversation.id, details: { turnsDeleted: 3 } }),
      ]);
    });
  });

  describe('scheduled backups', () => {
    it('writes an archive into BACKUP_DIR, keeps BACKUP_KEEP of them and reports the last', async () => {
      const files: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { ok, value, reason } = await run<{ file: string; pruned: string[] }>(
          MaintenanceJobName.Backup,
        );
        expect({ ok, reason }).toEqual({ ok: true, reason: undefined });
        files.push(value.file);
        clock.advance(HOUR);
      }
      expect(files.every((file) => /^verbatim-\d{8}T\d{6}Z\.tar\.gz$/.test(file))).toBe(true);
      // Something that is not a scheduled archive is never pruned.
      expect((await readdir(backupDir)).sort()).toEqual(files.slice(1).sort());

      admin = await loginAsAdmin(t.http);
      const stats = await t.http.get('/api/v1/stats/system').set(admin.auth).expect(200);
      expect(stats.body.backups).toMatchObject({ lastFile: files[2], lastFailureAt: null });
      expect(Date.parse(stats.body.backups.lastSuccessAt as string)).not.toBeNaN();
      const audits = await auditOf('backup.create');
      expect(audits.map((a) => a.resource_id)).toEqual(files);
    });

    it('audits a failure and reports it, leaving the existing archives alone', async () => {
      const before = (await readdir(backupDir)).sort();
      // The backup directory's place is taken by a file: the run cannot write there.
      const blocked = join(backupDir, 'blocked');
      await writeFile(blocked, 'not a directory');
      await t.close();
      t = await startApp(
        {
          DATABASE_URL: database.url,
          STORAGE_LOCAL_ROOT: storageRoot,
          REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-lifecycle`,
          MAINTENANCE_CRON: 'off',
          BACKUP_DIR: join(blocked, 'backups'),
        },
        { clock },
      );
      queue = t.app.get<Queue>(getQueueToken(QueueName.Maintenance));
      admin = await loginAsAdmin(t.http);

      // Switched off: the schedulers are removed.
      const keys = (await queue.getJobSchedulers()).map((s) => s.key);
      expect(keys).toEqual([]);

      const { ok } = await run(MaintenanceJobName.Backup);
      expect(ok).toBe(false);
      const failures = await auditOf('backup.fail');
      expect(failures).toHaveLength(1);
      expect(failures[0]!.outcome).toBe('failure');
      expect(JSON.stringify(failures[0]!.details)).not.toContain('postgres://');
      const stats = await t.http.get('/api/v1/stats/system').set(admin.auth).expect(200);
      expect(Date.parse(stats.body.backups.lastFailureAt as string)).not.toBeNaN();
      expect([...(await readdir(backupDir))].filter((f) => f !== 'blocked').sort()).toEqual(before);
      await mkdir(backupDir, { recursive: true });
    });
  });
});
