import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import { AnalysisResultEntity } from './entities/analysis-result.entity';

export type NewAnalysis = Pick<
  AnalysisResultEntity,
  | 'audioFileId'
  | 'transcriptionId'
  | 'transcriptionVersion'
  | 'version'
  | 'summary'
  | 'sentiment'
  | 'sentimentScore'
  | 'details'
  | 'engine'
  | 'createdBy'
>;

@Injectable()
export class AnalysisRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
  ) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Highest analysis version of the audio file; 0 when there is none. */
  async latestVersion(audioFileId: string, manager: EntityManager): Promise<number> {
    const [row] = await manager.query<{ v: number }[]>(
      `SELECT coalesce(max(version), 0)::int AS v FROM analysis_results WHERE audio_file_id = $1`,
      [audioFileId],
    );
    return row!.v;
  }

  /** The caller holds the audio file's row lock, which serialises version allocation. */
  insert(values: NewAnalysis, manager: EntityManager): Promise<AnalysisResultEntity> {
    const repository = manager.getRepository(AnalysisResultEntity);
    return repository.save(repository.create(values));
  }

  findLatestForAudio(audioFileId: string): Promise<AnalysisResultEntity | null> {
    return this.dataSource
      .getRepository(AnalysisResultEntity)
      .findOne({ where: { audioFileId }, order: { version: 'DESC' } });
  }

  /** A list, so a replica's (SPEC section 12). */
  listForTranscription(
    transcriptionId: string,
    offset: number,
    limit: number,
  ): Promise<[AnalysisResultEntity[], number]> {
    return this.replica.read((manager) =>
      manager.getRepository(AnalysisResultEntity).findAndCount({
        where: { transcriptionId },
        order: { version: 'DESC' },
        skip: offset,
        take: limit,
      }),
    );
  }
}
