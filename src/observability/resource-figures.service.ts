import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Cluster, type Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { InjectRedis } from '../core/redis/redis.module';

export interface DatabaseFigures {
  sizeBytes: number;
  /** Per table (partitions summed into their parent): planner row estimate and bytes. */
  tables: Record<string, { rows: number; totalBytes: number }>;
}

export interface RedisFigures {
  usedMemoryBytes: number;
  /** 0 when Redis has no limit (`maxmemory 0`). */
  maxMemoryBytes: number;
}

/**
 * How big things are (SPEC section 12, monitoring): read from the catalogues, never by
 * counting rows, so a scrape stays cheap on a database of any size.
 */
@Injectable()
export class ResourceFiguresService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRedis() private readonly redis: Redis,
  ) {}

  async database(): Promise<DatabaseFigures> {
    const [size] = await this.dataSource.query<{ bytes: string }[]>(
      `SELECT pg_database_size(current_database())::bigint AS bytes`,
    );
    // Ordinary and partitioned tables of the public schema; a partition counts toward its root.
    const rows = await this.dataSource.query<{ name: string; rows: string; bytes: string }[]>(
      `SELECT coalesce(parent.relname, c.relname) AS name,
              sum(greatest(c.reltuples, 0))::bigint AS rows,
              sum(pg_total_relation_size(c.oid))::bigint AS bytes
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
         LEFT JOIN pg_class parent ON parent.oid = i.inhparent
        WHERE c.relkind IN ('r', 'p')
        GROUP BY 1 ORDER BY 1`,
    );
    return {
      sizeBytes: Number(size?.bytes ?? 0),
      tables: Object.fromEntries(
        rows.map((row) => [row.name, { rows: Number(row.rows), totalBytes: Number(row.bytes) }]),
      ),
    };
  }

  /** On a Redis Cluster, the sum over its masters. */
  async redisMemory(): Promise<RedisFigures> {
    const client = this.redis as unknown;
    const servers: Redis[] = client instanceof Cluster ? client.nodes('master') : [this.redis];
    const infos = await Promise.all(servers.map((server) => server.info('memory')));
    const field = (info: string, name: string): number =>
      Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return {
      usedMemoryBytes: infos.reduce((sum, info) => sum + field(info, 'used_memory'), 0),
      maxMemoryBytes: infos.reduce((sum, info) => sum + field(info, 'maxmemory'), 0),
    };
  }
}
