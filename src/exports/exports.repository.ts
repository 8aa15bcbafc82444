import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, LessThanOrEqual } from 'typeorm';
import { AnalysisResultEntity } from '../analysis/entities/analysis-result.entity';
import { AudioFileEntity } from '../audio-files/entities/audio-file.entity';
import type { StoredEntry } from '../audit/audit-chain';
import { STORED_ROW_COLUMNS, storedEntry, StoredRow } from '../audit/stored-entry';
import { UserEntity } from '../auth/entities/user.entity';
import { CaseNoteEntity } from '../cases/entities/case-note.entity';
import { CaseParticipantEntity } from '../cases/entities/case-participant.entity';
import { CaseEntity } from '../cases/entities/case.entity';
import { ConversationEntity } from '../conversations/entities/conversation.entity';
import { TranscriptionEntity } from '../transcriptions/entities/transcription.entity';
import { CaseExportEntity } from './entities/case-export.entity';

export type ExportChanges = Partial<
  Pick<
    CaseExportEntity,
    | 'status'
    | 'storageKey'
    | 'sizeBytes'
    | 'manifestSha256'
    | 'keyId'
    | 'entryCount'
    | 'error'
    | 'completedAt'
    | 'expiresAt'
    | 'expiredAt'
  >
>;

/** A version of a transcription or analysis, without its (possibly large) content. */
export interface VersionRef {
  id: string;
  audioFileId: string;
  version: number;
}

/**
 * The `case_exports` table (owned here), and read-only views of what a bundle holds:
 * the case, its notes, audio, transcription and analysis versions, conversations with
 * their turns, and the audit entries about it. Large sets are read a page at a time.
 */
@Injectable()
export class ExportsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async create(
    row: Pick<CaseExportEntity, 'id' | 'caseId' | 'requestedBy' | 'jobId'>,
    manager: EntityManager,
  ): Promise<CaseExportEntity> {
    const repository = manager.getRepository(CaseExportEntity);
    return repository.save(repository.create({ ...row, status: 'queued' }));
  }

  findById(id: string): Promise<CaseExportEntity | null> {
    return this.dataSource.getRepository(CaseExportEntity).findOneBy({ id });
  }

  async update(id: string, changes: ExportChanges, manager?: EntityManager): Promise<void> {
    await (manager ?? this.dataSource.manager).update(CaseExportEntity, { id }, changes);
  }

  /** The caller's export of the case that is still queued or being built, if any. */
  findPending(caseId: string, requestedBy: string): Promise<CaseExportEntity | null> {
    return this.dataSource.getRepository(CaseExportEntity).findOne({
      where: [
        { caseId, requestedBy, status: 'queued' },
        { caseId, requestedBy, status: 'running' },
      ],
      order: { createdAt: 'DESC' },
    });
  }

  /** Ready exports whose time is up, oldest first. */
  expiredReady(now: Date, limit: number): Promise<CaseExportEntity[]> {
    return this.dataSource.getRepository(CaseExportEntity).find({
      where: { status: 'ready', expiresAt: LessThanOrEqual(now) },
      order: { expiresAt: 'ASC' },
      take: limit,
    });
  }

  // --- What a bundle holds (read only) -------------------------------------------
  // Each read takes the connection the build reads from (ExportBuilder: a replica that
  // has caught up with the primary, or the primary).

  findCase(db: EntityManager, caseId: string): Promise<CaseEntity | null> {
    return db.getRepository(CaseEntity).findOneBy({ id: caseId });
  }

  findUser(db: EntityManager, userId: string): Promise<Pick<UserEntity, 'id' | 'username'> | null> {
    return db
      .getRepository(UserEntity)
      .findOne({ where: { id: userId }, select: { id: true, username: true } });
  }

  participants(db: EntityManager, caseId: string): Promise<CaseParticipantEntity[]> {
    return db
      .getRepository(CaseParticipantEntity)
      .find({ where: { caseId }, order: { userId: 'ASC' } });
  }

  notes(db: EntityManager, caseId: string): Promise<CaseNoteEntity[]> {
    return db
      .getRepository(CaseNoteEntity)
      .find({ where: { caseId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Every audio file of the case, deleted ones (whose rows stay) included, oldest first. */
  audio(db: EntityManager, caseId: string): Promise<AudioFileEntity[]> {
    return db
      .getRepository(AudioFileEntity)
      .find({ where: { caseId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  transcriptionVersions(db: EntityManager, caseId: string): Promise<VersionRef[]> {
    return db.getRepository(TranscriptionEntity).find({
      where: { caseId },
      select: { id: true, audioFileId: true, version: true },
      order: { audioFileId: 'ASC', version: 'ASC' },
    });
  }

  transcription(db: EntityManager, id: string): Promise<TranscriptionEntity | null> {
    return db.getRepository(TranscriptionEntity).findOneBy({ id });
  }

  async analysisVersions(db: EntityManager, audioIds: string[]): Promise<VersionRef[]> {
    if (audioIds.length === 0) return [];
    return db
      .getRepository(AnalysisResultEntity)
      .createQueryBuilder('a')
      .select(['a.id', 'a.audioFileId', 'a.version'])
      .where('a.audio_file_id = ANY(:ids)', { ids: audioIds })
      .orderBy('a.audio_file_id', 'ASC')
      .addOrderBy('a.version', 'ASC')
      .getMany();
  }

  analysis(db: EntityManager, id: string): Promise<AnalysisResultEntity | null> {
    return db.getRepository(AnalysisResultEntity).findOneBy({ id });
  }

  /** Conversations linked to the case, deleted ones excepted. */
  conversations(db: EntityManager, caseId: string): Promise<ConversationEntity[]> {
    return db
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .where('c.case_id = :caseId', { caseId })
      .andWhere(`c.status <> 'deleted'`)
      .orderBy('c.created_at', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .getMany();
  }

  /** A page of a conversation's turns after `after` (message number), ascending. */
  turns(
    db: EntityManager,
    conversation: Pick<ConversationEntity, 'id' | 'partitionMonth'>,
    after: number,
    limit: number,
  ): Promise<Record<string, unknown>[]> {
    return db.query(
      `SELECT t.id::text AS id, t.message_number AS "messageNumber", t.speaker,
              t.raw_text AS "rawText", t.cleaned_text AS "cleanedText", t.spoken_at AS "spokenAt",
              t.confidence, t.cleaning_applied AS "cleaningApplied",
              t.cleaning_level AS "cleaningLevel", t.corrections,
              t.context_detected AS "contextDetected", t.business_domain AS "businessDomain",
              t.conversation_flow AS "conversationFlow", t.ai_model_used AS "aiModelUsed",
              t.transcription_error_detected AS "transcriptionErrorDetected",
              t.processing_time_ms AS "processingTimeMs", t.ingested_by AS "ingestedBy",
              t.received_at AS "receivedAt", t.persisted_at AS "persistedAt"
         FROM turns t
        WHERE t.conversation_id = $1 AND t.partition_month = $2 AND t.message_number > $3
        ORDER BY t.message_number LIMIT $4`,
      [conversation.id, conversation.partitionMonth, after, limit],
    );
  }

  /** The audit chain's newest entry, or null for an empty log. */
  async auditHead(db: EntityManager): Promise<{ id: string; hash: string } | null> {
    const [row] = await db.query<{ id: string; hash: string }[]>(
      `SELECT id::text AS id, hash FROM audit_logs ORDER BY seq DESC LIMIT 1`,
    );
    return row ?? null;
  }

  /** A page of the audit entries about the case, up to entry `upTo`, in chain order. */
  async auditEntries(
    db: EntityManager,
    caseId: string,
    after: string,
    upTo: string,
    limit: number,
  ): Promise<StoredEntry[]> {
    const rows = await db.query<Record<string, unknown>[]>(
      `SELECT ${STORED_ROW_COLUMNS.replace(/\s+/g, ' ')
        .split(', ')
        .map((column, i) => `${column} AS c${i}`)
        .join(', ')}
         FROM audit_logs a
        WHERE a.case_id = $1 AND a.id > $2 AND a.id <= $3
        ORDER BY a.id LIMIT $4`,
      [caseId, after, upTo, limit],
    );
    return rows.map((row) => storedEntry(Object.values(row) as unknown as StoredRow));
  }
}
