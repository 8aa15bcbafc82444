import { UnrecoverableError } from 'bullmq';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { AudioArchiveService, SimulatedCrash } from '../../src/audio-files/audio-archive.service';
import { AudioFilesModule } from '../../src/audio-files/audio-files.module';
import { CORE_MODULES } from '../../src/app.module';
import { STORAGE, StorageDriver } from '../../src/core/storage/storage-driver';
import { archiveAudioKey, caseAudioKey } from '../../src/core/storage/storage-keys';
import { AccessWorld } from '../support/access-world';
import { bootIntegration, Integration } from '../support/integration';

/**
 * The audio archive state machine below HTTP and queues: AudioArchiveService's archive,
 * restore, delete and verify called directly, on the run's database (rows of its own)
 * and a real local storage driver rooted in a temporary directory.
 */
describe('Audio archive state machine (integration)', () => {
  let integration: Integration;
  let db: DataSource;
  let world: AccessWorld;
  let archive: AudioArchiveService;
  let storage: StorageDriver;
  let root: string;
  let user: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verbatim-archive-'));
    integration = await bootIntegration(
      'archive',
      {
        // The infrastructure of every process, and the module under test as the app wires it.
        imports: [...CORE_MODULES, AudioFilesModule],
      },
      { sharedDatabase: true, env: { STORAGE_DRIVER: 'local', STORAGE_LOCAL_ROOT: root } },
    );
    db = integration.db;
    world = new AccessWorld(db);
    archive = integration.moduleRef.get(AudioArchiveService);
    storage = integration.moduleRef.get<StorageDriver>(STORAGE);
    user = await world.user();
  });

  afterAll(async () => {
    await integration?.close();
    await rm(root, { recursive: true, force: true });
  });

  interface Stored {
    id: string;
    caseId: string;
    bytes: Buffer;
    live: string;
    archived: string;
  }

  /** An audio file of a case of its own, its bytes stored under its live key. */
  async function storedAudio(): Promise<Stored> {
    const caseId = await world.case(user);
    const id = randomUUID();
    const bytes = randomBytes(4096 + Math.floor(Math.random() * 4096));
    const live = caseAudioKey(caseId, id, '.wav');
    await storage.put(live, Readable.from([bytes]), { contentType: 'audio/wav' });
    await db.query(
      `INSERT INTO audio_files (id, case_id, original_name, mime_type, size_bytes, sha256, status,
                                storage_type, storage_key, uploaded_by)
       VALUES ($1, $2, 'a.wav', 'audio/wav', $3, $4, 'processed', 'local', $5, $6)`,
      [id, caseId, bytes.length, createHash('sha256').update(bytes).digest('hex'), live, user],
    );
    return { id, caseId, bytes, live, archived: archiveAudioKey(id, '.wav') };
  }

  async function row(id: string): Promise<{
    storage_key: string;
    is_archived: boolean;
    archive_reason: string | null;
    deleted_at: Date | null;
    verified_at: Date | null;
    status: string;
    error_message: string | null;
  }> {
    const [found] = await db.query<
      {
        storage_key: string;
        is_archived: boolean;
        archive_reason: string | null;
        deleted_at: Date | null;
        verified_at: Date | null;
        status: string;
        error_message: string | null;
      }[]
    >(
      `SELECT storage_key, is_archived, archive_reason, deleted_at, verified_at, status, error_message
         FROM audio_files WHERE id = $1`,
      [id],
    );
    return found!;
  }

  async function bytesAt(key: string): Promise<Buffer | null> {
    if (!(await storage.head(key))) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of await storage.get(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function auditActions(audioId: string): Promise<string[]> {
    const rows = await db.query<{ action: string }[]>(
      `SELECT action FROM audit_logs a WHERE resource_id = $1 ORDER BY a.id`,
      [audioId],
    );
    return rows.map((r) => r.action);
  }

  const job = (audioId: string, extra: { reason?: string; retention?: boolean } = {}) => ({
    audioId,
    requestedBy: user,
    ...extra,
  });

  describe('archive → restore → verify → delete', () => {
    it('moves the bytes between the live and archive keys, updates the row, audits each step', async () => {
      const file = await storedAudio();

      const archived = await archive.archive(job(file.id, { reason: 'closed case' }));
      expect(archived).toEqual({ audioId: file.id, storageKey: file.archived });
      expect(await row(file.id)).toMatchObject({
        storage_key: file.archived,
        is_archived: true,
        archive_reason: 'closed case',
      });
      expect(await bytesAt(file.archived)).toEqual(file.bytes);
      expect(await bytesAt(file.live)).toBeNull();

      const restored = await archive.restore(job(file.id));
      expect(restored).toEqual({ audioId: file.id, storageKey: file.live });
      expect(await row(file.id)).toMatchObject({ storage_key: file.live, is_archived: false });
      expect(await bytesAt(file.live)).toEqual(file.bytes);
      expect(await bytesAt(file.archived)).toBeNull();

      expect(await archive.verify(job(file.id))).toEqual({ audioId: file.id, valid: true });
      expect((await row(file.id)).verified_at).not.toBeNull();

      expect(await archive.delete(job(file.id))).toMatchObject({ audioId: file.id });
      expect((await row(file.id)).deleted_at).not.toBeNull();
      expect(await bytesAt(file.live)).toBeNull();
      expect(await bytesAt(file.archived)).toBeNull();

      expect(await auditActions(file.id)).toEqual([
        'audio.archive',
        'audio.restore',
        'audio.verify',
        'audio.delete',
      ]);
    });

    it('archiving an archived file or restoring a live one is already done: nothing moves, nothing is audited', async () => {
      const file = await storedAudio();
      expect(await archive.restore(job(file.id))).toEqual({
        audioId: file.id,
        storageKey: file.live,
        alreadyDone: true,
      });
      await archive.archive(job(file.id));
      expect(await archive.archive(job(file.id))).toEqual({
        audioId: file.id,
        storageKey: file.archived,
        alreadyDone: true,
      });
      expect(await auditActions(file.id)).toEqual(['audio.archive']);
      expect(await bytesAt(file.archived)).toEqual(file.bytes);
    });
  });

  describe('refused transitions', () => {
    it('a deleted file can be neither archived, restored nor verified (unrecoverable: no retry)', async () => {
      const file = await storedAudio();
      await archive.delete(job(file.id));
      for (const step of [
        () => archive.archive(job(file.id)),
        () => archive.restore(job(file.id)),
        () => archive.verify(job(file.id)),
      ]) {
        await expect(step()).rejects.toBeInstanceOf(UnrecoverableError);
      }
      // Deleting again is harmless (a retried job).
      await archive.delete(job(file.id));
      expect(await auditActions(file.id)).toEqual(['audio.delete']);
    });

    it('a legal hold refuses retention archiving and deletion, and leaves bytes and row as they were', async () => {
      const file = await storedAudio();
      await db.query(
        `UPDATE cases SET legal_hold_at = now(), legal_hold_reason = 'litigation' WHERE id = $1`,
        [file.caseId],
      );
      await expect(
        archive.archive(job(file.id, { reason: 'retention', retention: true })),
      ).rejects.toThrow(/legal hold/);
      await expect(archive.delete(job(file.id))).rejects.toThrow(/legal hold/);
      expect(await row(file.id)).toMatchObject({
        storage_key: file.live,
        is_archived: false,
        deleted_at: null,
      });
      expect(await bytesAt(file.live)).toEqual(file.bytes);
      expect(await auditActions(file.id)).toEqual([]);
    });

    it('an unknown audio file is refused for every operation', async () => {
      const missing = randomUUID();
      await expect(archive.archive(job(missing))).rejects.toBeInstanceOf(UnrecoverableError);
      await expect(archive.delete(job(missing))).rejects.toBeInstanceOf(UnrecoverableError);
    });

    it('verify marks a file whose bytes changed or vanished as failed, with the reason, and audits it', async () => {
      const changed = await storedAudio();
      await storage.put(changed.live, Readable.from([randomBytes(changed.bytes.length)]));
      const verdict = await archive.verify(job(changed.id));
      expect(verdict).toMatchObject({ audioId: changed.id, valid: false });
      expect(verdict.reason).toMatch(/^sha256 is [0-9a-f]{64}, expected [0-9a-f]{64}$/);
      expect(await row(changed.id)).toMatchObject({ status: 'failed' });

      const vanished = await storedAudio();
      await storage.delete(vanished.live);
      expect(await archive.verify(job(vanished.id))).toEqual({
        audioId: vanished.id,
        valid: false,
        reason: 'the stored bytes are missing',
      });
      expect((await row(vanished.id)).error_message).toBe(
        'Integrity check failed: the stored bytes are missing',
      );
      expect(await auditActions(vanished.id)).toEqual(['audio.verify_failed']);
    });
  });

  describe('a crash mid-move', () => {
    it.each(['copy', 'verify', 'delete-source'] as const)(
      'a crash after %s leaves the file readable under one key, and a re-run completes the archive',
      async (step) => {
        const file = await storedAudio();
        await expect(
          archive.archive(job(file.id), undefined, { crashAfter: step }),
        ).rejects.toThrow(SimulatedCrash);
        // The row still points at the live key, and its bytes are under one of the two keys.
        expect(await row(file.id)).toMatchObject({ storage_key: file.live, is_archived: false });
        const readable = (await bytesAt(file.live)) ?? (await bytesAt(file.archived));
        expect(readable).toEqual(file.bytes);

        expect(await archive.archive(job(file.id))).toEqual({
          audioId: file.id,
          storageKey: file.archived,
        });
        expect(await row(file.id)).toMatchObject({ storage_key: file.archived, is_archived: true });
        expect(await bytesAt(file.archived)).toEqual(file.bytes);
        expect(await bytesAt(file.live)).toBeNull();
        expect(await auditActions(file.id)).toEqual(['audio.archive']);
      },
    );

    it('a crash after copying during a restore: the re-run completes it', async () => {
      const file = await storedAudio();
      await archive.archive(job(file.id));
      await expect(
        archive.restore(job(file.id), undefined, { crashAfter: 'copy' }),
      ).rejects.toThrow(SimulatedCrash);
      expect(await row(file.id)).toMatchObject({ storage_key: file.archived, is_archived: true });
      expect(await archive.restore(job(file.id))).toEqual({
        audioId: file.id,
        storageKey: file.live,
      });
      expect(await bytesAt(file.live)).toEqual(file.bytes);
      expect(await bytesAt(file.archived)).toBeNull();
      expect(await auditActions(file.id)).toEqual(['audio.archive', 'audio.restore']);
    });
  });
});
