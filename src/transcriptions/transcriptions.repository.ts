import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import { TranscriptionEntity } from './entities/transcription.entity';

export type NewTranscription = Pick<
  TranscriptionEntity,
  | 'audioFileId'
  | 'caseId'
  | 'version'
  | 'parentVersion'
  | 'audioSha256'
  | 'language'
  | 'content'
  | 'segments'
  | 'segmentCount'
  | 'engine'
  | 'confidence'
  | 'createdBy'
>;

/** Columns of a version without its text, for lists. */
const SUMMARY_COLUMNS = [
  't.id',
  't.audioFileId',
  't.caseId',
  't.version',
  't.parentVersion',
  't.audioSha256',
  't.language',
  't.engine',
  't.confidence',
  't.segmentCount',
  't.isLatest',
  't.createdBy',
  't.createdAt',
];

@Injectable()
export class TranscriptionsRepository {
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

  /** Highest version of the audio file's transcription; 0 when there is none. */
  async latestVersion(audioFileId: string, manager?: EntityManager): Promise<number> {
    const [row] = await this.manager(manager).query<{ v: number }[]>(
      `SELECT coalesce(max(version), 0)::int AS v FROM transcriptions WHERE audio_file_id = $1`,
      [audioFileId],
    );
    return row!.v;
  }

  /**
   * Writes the next version as the latest. The caller holds the audio file's row lock,
   * which serialises version allocation per file; the unique keys are the backstop.
   */
  async insertLatest(
    values: NewTranscription,
    manager: EntityManager,
  ): Promise<TranscriptionEntity> {
    await manager.query(
      `UPDATE transcriptions SET is_latest = false WHERE audio_file_id = $1 AND is_latest`,
      [values.audioFileId],
    );
    const result = await manager
      .createQueryBuilder()
      .insert()
      .into(TranscriptionEntity)
      .values({ ...values, isLatest: true })
      .returning(['id'])
      .execute();
    const id = (result.identifiers[0] as { id: string }).id;
    return (await this.findById(id, manager))!;
  }

  findById(id: string, manager?: EntityManager): Promise<TranscriptionEntity | null> {
    return this.manager(manager).getRepository(TranscriptionEntity).findOneBy({ id });
  }

  findLatest(audioFileId: string): Promise<TranscriptionEntity | null> {
    return this.dataSource
      .getRepository(TranscriptionEntity)
      .findOneBy({ audioFileId, isLatest: true });
  }

  /** Versions of one audio file, newest first, without their text; a list, so a replica's. */
  listForAudio(
    audioFileId: string,
    offset: number,
    limit: number,
  ): Promise<[TranscriptionEntity[], number]> {
    return this.replica.read((manager) =>
      manager
        .getRepository(TranscriptionEntity)
        .createQueryBuilder('t')
        .select(SUMMARY_COLUMNS)
        .where('t.audioFileId = :audioFileId', { audioFileId })
        .orderBy('t.version', 'DESC')
        .offset(offset)
        .limit(limit)
        .getManyAndCount(),
    );
  }

  async languageExists(code: string): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>('SELECT 1 FROM languages WHERE code = $1', [
      code,
    ]);
    return rows.length > 0;
  }
}
