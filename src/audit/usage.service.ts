import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../core/clock/clock';
import { ReplicaReads } from '../core/database/replica-reads';
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

/**
 * Usage counters per user and month, changed only by atomic upserts on the primary and
 * read (statistics, SPEC section 12) from a replica when there is one.
 */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
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
    return this.replica.read((manager) =>
      manager.getRepository(UsageStatisticEntity).findOneBy({ userId, month }),
    );
  }

  usernameOf(userId: string): Promise<string | null> {
    return this.replica.read(async (manager) => {
      const [row] = await manager.query<{ username: string }[]>(
        'SELECT username FROM users WHERE id = $1',
        [userId],
      );
      return row?.username ?? null;
    });
  }

  /** Every row of a month (users with any usage), with usernames, by username. */
  async listMonth(month: string): Promise<(UsageStatisticEntity & { username: string | null })[]> {
    const rows = await this.replica.read((manager) =>
      manager.query<(Omit<UsageStatisticEntity, 'month'> & { username: string | null })[]>(
        `SELECT s.user_id AS "userId", u.username, s.files_uploaded AS "filesUploaded",
              s.bytes_uploaded::text AS "bytesUploaded", s.audio_seconds AS "audioSeconds",
              s.transcriptions, s.jobs_succeeded AS "jobsSucceeded", s.jobs_failed AS "jobsFailed",
              s.turns_ingested::text AS "turnsIngested"
         FROM usage_statistics s LEFT JOIN users u ON u.id = s.user_id
        WHERE s.month = $1
        ORDER BY u.username NULLS LAST, s.user_id`,
        [month],
      ),
    );
    return rows.map((row) => ({ ...row, month }));
  }
}
