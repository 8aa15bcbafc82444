import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../core/clock/clock';
import { UsageStatisticEntity } from './entities/usage-statistic.entity';

export interface UsageDelta {
  filesUploaded?: number;
  bytesUploaded?: number;
  audioSeconds?: number;
  transcriptions?: number;
  jobsSucceeded?: number;
  jobsFailed?: number;
  turnsIngested?: number;
}

const COLUMNS: Record<keyof UsageDelta, string> = {
  filesUploaded: 'files_uploaded',
  bytesUploaded: 'bytes_uploaded',
  audioSeconds: 'audio_seconds',
  transcriptions: 'transcriptions',
  jobsSucceeded: 'jobs_succeeded',
  jobsFailed: 'jobs_failed',
  turnsIngested: 'turns_ingested',
};

/** First day of the month, UTC, as YYYY-MM-DD. */
export function monthOf(at: Date): string {
  return `${at.toISOString().slice(0, 7)}-01`;
}

/** Usage counters per user and month, changed only by atomic upserts. */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async increment(
    userId: string,
    delta: UsageDelta,
    manager?: EntityManager,
    at: Date = this.clock.now(),
  ): Promise<void> {
    const changes = (Object.keys(COLUMNS) as (keyof UsageDelta)[])
      .filter((key) => delta[key] !== undefined && delta[key] !== 0)
      .map((key) => ({ column: COLUMNS[key], value: delta[key]! }));
    if (changes.length === 0) return;
    const columns = changes.map((c) => c.column);
    const placeholders = changes.map((_, i) => `$${i + 3}`);
    const updates = columns.map((c) => `${c} = usage_statistics.${c} + EXCLUDED.${c}`);
    await (manager ?? this.dataSource.manager).query(
      `INSERT INTO usage_statistics (user_id, month, ${columns.join(', ')})
       VALUES ($1, $2, ${placeholders.join(', ')})
       ON CONFLICT (user_id, month) DO UPDATE SET ${updates.join(', ')}`,
      [userId, monthOf(at), ...changes.map((c) => c.value)],
    );
  }

  find(userId: string, month: string): Promise<UsageStatisticEntity | null> {
    return this.dataSource.getRepository(UsageStatisticEntity).findOneBy({ userId, month });
  }
}
