import { getQueueToken } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { EntityManager } from 'typeorm';
import { TurnBuffer } from '../conversations/turns/turn-buffer';
import { Clock } from '../core/clock/clock';
import { ReplicaReads } from '../core/database/replica-reads';
import { QueueName } from '../core/queue/queue-names';
import { MaintenanceService, MaintenanceSummary } from '../maintenance/maintenance.service';
import { DatabaseFigures, RedisFigures, ResourceFiguresService } from './resource-figures.service';

export interface SystemStats {
  rows: Record<string, number>;
  activeConversations: number;
  queues: Record<string, Record<string, number>>;
  turnBuffer: { entries: number; unacknowledged: number; lagMs: number; deadLettered: number };
  database: DatabaseFigures;
  redis: RedisFigures;
  /** From the last storage check (listing a bucket per request would be too slow). */
  storage: MaintenanceSummary['storage'];
  backups: MaintenanceSummary['backups'];
  generatedAt: string;
}

/** Tables reported in `rows`; large append-only ones use the planner's estimate. */
const EXACT = ['users', 'roles', 'cases', 'conversations'];
const ESTIMATED = ['turns', 'audit_logs', 'case_notes', 'audio_files'];

@Injectable()
export class SystemStatsService {
  constructor(
    private readonly replica: ReplicaReads,
    private readonly buffer: TurnBuffer,
    private readonly moduleRef: ModuleRef,
    private readonly clock: Clock,
    private readonly figures: ResourceFiguresService,
    private readonly maintenance: MaintenanceService,
  ) {}

  async collect(): Promise<SystemStats> {
    // Row counts are the expensive part and may lag: a replica's (SPEC section 12). The
    // database and Redis figures describe the primary and the cluster, and stay there.
    const { counts, estimates } = await this.replica.read((manager) => this.rowCounts(manager));
    const queues: Record<string, Record<string, number>> = {};
    for (const name of Object.values(QueueName)) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      queues[name] = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'completed',
        'failed',
      );
    }
    const [backlog, lagMs, deadLettered, database, redis, lifecycle] = await Promise.all([
      this.buffer.backlog(),
      this.buffer.oldestAgeMs(),
      this.buffer.deadLetterCount(),
      this.figures.database(),
      this.figures.redisMemory(),
      this.maintenance.summary(),
    ]);
    const { activeConversations, ...rows } = counts;
    return {
      rows: { ...rows, ...Object.fromEntries(estimates.map((e) => [e.name, Number(e.n)])) },
      activeConversations: activeConversations ?? 0,
      queues,
      turnBuffer: { entries: backlog.length, unacknowledged: backlog.pending, lagMs, deadLettered },
      database,
      redis,
      storage: lifecycle.storage,
      backups: lifecycle.backups,
      generatedAt: this.clock.now().toISOString(),
    };
  }

  private async rowCounts(manager: EntityManager): Promise<{
    counts: Record<string, number>;
    estimates: { name: string; n: number }[];
  }> {
    const [counts] = await manager.query<Record<string, number>[]>(
      `SELECT ${EXACT.map((t) => `(SELECT count(*)::int FROM ${t}) AS "${t}"`).join(', ')},
              (SELECT count(*)::int FROM conversations WHERE status = 'active') AS "activeConversations"`,
    );
    // Partitioned or huge tables: sum the children's estimates instead of scanning.
    const estimates = await manager.query<{ name: string; n: number }[]>(
      `SELECT t.name, coalesce((
          SELECT sum(greatest(c.reltuples, 0))::bigint FROM pg_class c
           WHERE c.oid = to_regclass(t.name)
              OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(t.name))
        ), 0)::float8 AS n
         FROM unnest($1::text[]) AS t(name)`,
      [ESTIMATED],
    );
    return { counts: counts!, estimates };
  }
}
