import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import type { AccessScope } from '../core/access/access-decision';
import { visibleCases } from '../core/access/access.predicates';
import { AudioFileEntity, AudioStatus } from './entities/audio-file.entity';

/** Only audio of cases visible to the scope's actor (`visibleCases`). */
export interface AudioListFilter extends AccessScope {
  caseId?: string;
  status?: AudioStatus;
  language?: string;
  uploadedBy?: string;
  /** Creation order; oldest first unless `desc`. */
  newestFirst?: boolean;
  offset: number;
  limit: number;
}

export type AudioChanges = Partial<
  Pick<
    AudioFileEntity,
    | 'status'
    | 'errorMessage'
    | 'claimedBy'
    | 'claimedAt'
    | 'progressPercent'
    | 'progressStage'
    | 'progressAt'
    | 'processedAt'
    | 'storageKey'
    | 'isArchived'
    | 'archivedAt'
    | 'archiveReason'
    | 'verifiedAt'
    | 'deletedAt'
  >
>;

/** Where a move between the live and archive keys left a file's bytes. */
export interface KeyChange {
  id: string;
  storageKey: string;
  /** True for the archive key; the archive reason goes with it. */
  archived: boolean;
  archiveReason: string | null;
}

@Injectable()
export class AudioFilesRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
  ) {}

  private manager(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  insert(values: Partial<AudioFileEntity>, manager: EntityManager): Promise<AudioFileEntity> {
    const repository = manager.getRepository(AudioFileEntity);
    return repository.save(repository.create(values));
  }

  /** A live (not deleted) file. */
  findLive(id: string, manager?: EntityManager): Promise<AudioFileEntity | null> {
    return this.manager(manager)
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .where('a.id = :id AND a.deletedAt IS NULL', { id })
      .getOne();
  }

  /** A file whatever its state, for the jobs that must be re-runnable after deletion. */
  findAny(id: string, manager?: EntityManager): Promise<AudioFileEntity | null> {
    return this.manager(manager).getRepository(AudioFileEntity).findOneBy({ id });
  }

  lockAny(id: string, manager: EntityManager): Promise<AudioFileEntity | null> {
    return manager
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .setLock('pessimistic_write')
      .where('a.id = :id', { id })
      .getOne();
  }

  findLiveDuplicate(
    caseId: string,
    sha256: string,
    manager?: EntityManager,
  ): Promise<AudioFileEntity | null> {
    return this.manager(manager)
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .where('a.caseId = :caseId AND a.sha256 = :sha256 AND a.deletedAt IS NULL', {
        caseId,
        sha256,
      })
      .getOne();
  }

  /**
   * Applies changes and bumps the version; with `expected`, only from that version.
   * Releasing the claim (`claimedBy: null`) clears its progress too.
   */
  async update(
    id: string,
    changes: AudioChanges,
    manager: EntityManager,
    expected?: { version: number },
  ): Promise<AudioFileEntity | null> {
    const released =
      changes.claimedBy === null
        ? { progressPercent: null, progressStage: null, progressAt: null }
        : {};
    const query = manager
      .createQueryBuilder()
      .update(AudioFileEntity)
      .set({ ...released, ...changes, version: () => 'version + 1', updatedAt: () => 'now()' })
      .where('id = :id', { id });
    if (expected) query.andWhere('version = :version', { version: expected.version });
    const result = await query.execute();
    return result.affected ? this.findAny(id, manager) : null;
  }

  /**
   * Points every file at its new key in one statement, bumping the version. Files already
   * there (done by an earlier run) are left alone; the ids of those that changed.
   */
  async pointAtKeys(changes: KeyChange[], manager: EntityManager): Promise<Set<string>> {
    const [rows] = await manager.query<[{ id: string }[], number]>(
      `UPDATE audio_files a
          SET storage_key = c.key, is_archived = c.archived,
              archived_at = CASE WHEN c.archived THEN now() END,
              archive_reason = CASE WHEN c.archived THEN c.reason END,
              version = a.version + 1, updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::boolean[], $4::text[]) AS c(id, key, archived, reason)
        WHERE a.id = c.id AND a.storage_key <> c.key
       RETURNING a.id`,
      [
        changes.map((c) => c.id),
        changes.map((c) => c.storageKey),
        changes.map((c) => c.archived),
        changes.map((c) => c.archiveReason),
      ],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Visible, live audio, filtered and paginated in SQL; from a read replica if any. */
  list(filter: AudioListFilter): Promise<[AudioFileEntity[], number]> {
    return this.replica.read((manager) => this.listOn(manager, filter));
  }

  private listOn(
    manager: EntityManager,
    filter: AudioListFilter,
  ): Promise<[AudioFileEntity[], number]> {
    const query = manager
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .innerJoin('cases', 'c', 'c.id = a.case_id AND c.deleted_at IS NULL')
      .where('a.deletedAt IS NULL');
    if (!filter.seesAll) {
      query.andWhere(
        visibleCases(filter, 'a.case_id', () => ':actorId'),
        { actorId: filter.actorId },
      );
    }
    if (filter.caseId) query.andWhere('a.caseId = :caseId', { caseId: filter.caseId });
    if (filter.status) query.andWhere('a.status = :status', { status: filter.status });
    if (filter.language) query.andWhere('a.language = :language', { language: filter.language });
    if (filter.uploadedBy) {
      query.andWhere('a.uploadedBy = :uploadedBy', { uploadedBy: filter.uploadedBy });
    }
    const direction = filter.newestFirst ? 'DESC' : 'ASC';
    query
      .orderBy('a.createdAt', direction)
      .addOrderBy('a.id', direction)
      .offset(filter.offset)
      .limit(filter.limit);
    return Promise.all([query.getMany(), query.getCount()]);
  }

  async languageExists(code: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>('SELECT 1 FROM languages WHERE code = $1', [
      code,
    ]);
    return rows.length > 0;
  }

  /**
   * Atomically claims a file for `userId`: from `queued`, from its own claim (renewal),
   * or from a claim older than the timeout (stale claims expire lazily here as well as
   * in the every-minute release). A new claim starts without progress. `now` is the
   * application clock's, so claim ages follow it. Null when the claim was not taken.
   */
  async claim(
    id: string,
    userId: string,
    timeoutMinutes: number,
    now: Date,
    manager: EntityManager,
  ): Promise<AudioFileEntity | null> {
    const [rows] = await manager.query<[{ id: string }[], number]>(
      `UPDATE audio_files
          SET status = 'processing', claimed_by = $2, claimed_at = $4, error_message = NULL,
              progress_percent = CASE WHEN claimed_by = $2 THEN progress_percent END,
              progress_stage = CASE WHEN claimed_by = $2 THEN progress_stage END,
              progress_at = CASE WHEN claimed_by = $2 THEN progress_at END,
              version = version + 1, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL AND NOT is_archived
          AND (status = 'queued'
               OR (status = 'processing'
                   AND (claimed_by = $2 OR claimed_by IS NULL
                        OR claimed_at < $4::timestamptz - $3 * interval '1 minute')))
        RETURNING id`,
      [id, userId, timeoutMinutes, now],
    );
    return rows.length > 0 ? this.findAny(id, manager) : null;
  }

  /**
   * The claimant's progress report: stored, and the claim renewed (`claimedAt = now`), so
   * an engine that reports is never taken for stale. Null unless `userId` holds the claim
   * of a live file in `processing`.
   */
  async reportProgress(
    id: string,
    userId: string,
    progress: { percent: number; stage: string | null },
    now: Date,
    manager: EntityManager,
  ): Promise<AudioFileEntity | null> {
    const [rows] = await manager.query<[{ id: string }[], number]>(
      `UPDATE audio_files
          SET progress_percent = $3, progress_stage = $4, progress_at = $5, claimed_at = $5,
              version = version + 1, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL AND status = 'processing' AND claimed_by = $2
        RETURNING id`,
      [id, userId, progress.percent, progress.stage, now],
    );
    return rows.length > 0 ? this.findAny(id, manager) : null;
  }

  /**
   * Returns claims older than the timeout at `now` to `queued` (without progress); what
   * was released, with who held it. Rows locked by a running claim or report are skipped:
   * the next run sees them.
   */
  async releaseStaleClaims(
    timeoutMinutes: number,
    now: Date,
    manager: EntityManager,
  ): Promise<{ id: string; caseId: string; claimedBy: string | null }[]> {
    const [rows] = await manager.query<
      [{ id: string; caseId: string; claimedBy: string | null }[], number]
    >(
      `WITH stale AS (
         SELECT id, claimed_by FROM audio_files
          WHERE status = 'processing' AND deleted_at IS NULL
            AND claimed_at < $2::timestamptz - $1 * interval '1 minute'
          FOR UPDATE SKIP LOCKED)
       UPDATE audio_files a
          SET status = 'queued', claimed_by = NULL, claimed_at = NULL,
              progress_percent = NULL, progress_stage = NULL, progress_at = NULL,
              version = a.version + 1, updated_at = now()
         FROM stale WHERE a.id = stale.id
       RETURNING a.id, a.case_id AS "caseId", stale.claimed_by AS "claimedBy"`,
      [timeoutMinutes, now],
    );
    return rows;
  }

  /** Live, unarchived audio of live cases closed before `closedBefore` and not under hold. */
  async findRetentionCandidates(closedBefore: Date, limit: number): Promise<AudioFileEntity[]> {
    return this.dataSource
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .innerJoin('cases', 'c', 'c.id = a.case_id')
      .where('a.deletedAt IS NULL AND NOT a.isArchived')
      .andWhere(`c.status = 'closed' AND c.closed_at < :closedBefore`, { closedBefore })
      .andWhere('c.legal_hold_at IS NULL AND c.deleted_at IS NULL')
      .orderBy('a.createdAt', 'ASC')
      .limit(limit)
      .getMany();
  }
  /** Of these audio ids, those with a live (not deleted) row. */
  async liveIdsAmong(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM audio_files WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`,
      [ids],
    );
    return new Set(rows.map((row) => row.id));
  }

  /** Live rows after `afterId` in id order, for a pass over every stored object's row. */
  liveKeysPage(
    afterId: string | null,
    limit: number,
  ): Promise<{ id: string; caseId: string; storageKey: string; errorMessage: string | null }[]> {
    return this.dataSource.query(
      `SELECT id, case_id AS "caseId", storage_key AS "storageKey", error_message AS "errorMessage"
         FROM audio_files
        WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR id > $1::uuid)
        ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
  }

  /**
   * Live audio of cases deleted before `deletedBefore` and not under legal hold: what the
   * purge deletes. Bounded; the next run takes the rest.
   */
  purgeCandidates(deletedBefore: Date, limit: number): Promise<AudioFileEntity[]> {
    return this.dataSource
      .getRepository(AudioFileEntity)
      .createQueryBuilder('a')
      .innerJoin('cases', 'c', 'c.id = a.case_id')
      .where('a.deletedAt IS NULL')
      .andWhere('c.deleted_at < :deletedBefore AND c.legal_hold_at IS NULL', { deletedBefore })
      .orderBy('a.createdAt', 'ASC')
      .limit(limit)
      .getMany();
  }
}
