import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Clock } from '../clock/clock';

/** DATABASE_REPLICA_URLS as a list ('' or unset: none). */
export function replicaUrlsOf(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/** After a replica fails, reads go to the primary for this long before trying again. */
export const REPLICA_RETRY_AFTER_MS = 5_000;

/** How long readCurrent() waits for a replica to replay up to the primary's position. */
export const REPLICA_CATCH_UP_MS = 5_000;
const CATCH_UP_POLL_MS = 50;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
]);

/**
 * The server is unreachable or going away (as opposed to the query being wrong): refused
 * or reset connections, connect timeouts, and SQLSTATE class 08 (connection exception) or
 * 57P01-57P03 (shutting down, starting up).
 */
export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) {
      return true;
    }
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(
    message,
  );
}

/**
 * Where reads that may lag go (SPEC section 12): lists, search, stats and exports run
 * `replica.read(manager => …)`; everything else, writes and reads of one's own writes
 * included, stays on the primary (TypeORM's replication is configured with the primary as
 * the default). A replica that cannot be reached is skipped, never a 5xx: the read runs on
 * the primary, and replicas are left alone for REPLICA_RETRY_AFTER_MS.
 */
@Injectable()
export class ReplicaReads {
  private readonly logger = new Logger(ReplicaReads.name);
  private readonly hasReplicas: boolean;
  private skipUntil = 0;
  private next = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {
    this.hasReplicas =
      'replication' in this.dataSource.options && this.dataSource.options.replication !== undefined;
  }

  /** `work` with an entity manager bound to one connection: a replica's, or the primary's. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.onReplica(async (mode) => {
      const runner = this.dataSource.createQueryRunner(mode);
      try {
        await runner.connect();
        return await work(runner.manager);
      } finally {
        await runner.release().catch(() => undefined);
      }
    });
  }

  /**
   * `work` on a replica that has replayed everything the primary had written when this was
   * called, else on the primary: for reads that must not miss what was just committed (an
   * export bundle must hold the request's own audit entry and every change before it).
   * The replica gets `maxWaitMs` to catch up; one that is further behind is not skipped
   * (it is reachable), this read simply runs on the primary.
   */
  async readCurrent<T>(
    work: (manager: EntityManager) => Promise<T>,
    maxWaitMs = REPLICA_CATCH_UP_MS,
  ): Promise<T> {
    if (!this.hasReplicas) return this.read(work);
    const [primary] = await this.dataSource.query<{ lsn: string }[]>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    );
    return this.onReplica(async (mode) => {
      let runner = this.dataSource.createQueryRunner(mode);
      try {
        await runner.connect();
        if (
          mode === 'slave' &&
          !(await this.replayedUpTo(runner.manager, primary!.lsn, maxWaitMs))
        ) {
          this.logger.warn(
            { lsn: primary!.lsn, maxWaitMs },
            'read replica is behind the primary; this read runs on the primary',
          );
          await runner.release().catch(() => undefined);
          runner = this.dataSource.createQueryRunner('master');
          await runner.connect();
        }
        return await work(runner.manager);
      } finally {
        await runner.release().catch(() => undefined);
      }
    });
  }

  /** Polls the replica until it has replayed `lsn`; false when `maxWaitMs` ran out first. */
  private async replayedUpTo(
    manager: EntityManager,
    lsn: string,
    maxWaitMs: number,
  ): Promise<boolean> {
    // Counted polls, not the injected clock: this is a real wait on another server.
    for (let polls = Math.ceil(maxWaitMs / CATCH_UP_POLL_MS); ; polls--) {
      const [row] = await manager.query<{ done: boolean }[]>(
        'SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true) AS done',
        [lsn],
      );
      if (row?.done) return true;
      if (polls <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
    }
  }

  /** `work` with a raw pg client (prepared statements, EXPLAIN): a replica's, or the primary's. */
  readClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.onReplica(async (mode) => {
      const client = await this.pool(mode).connect();
      let broken = false;
      try {
        return await work(client);
      } catch (error) {
        broken = true; // a failed statement may leave the session mid-transaction
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  private pool(mode: 'master' | 'slave'): Pool {
    const driver = this.dataSource.driver as PostgresDriver;
    if (mode === 'master') return driver.master as Pool;
    const slaves = driver.slaves as Pool[];
    this.next = (this.next + 1) % slaves.length;
    return slaves[this.next]!;
  }

  private async onReplica<T>(attempt: (mode: 'master' | 'slave') => Promise<T>): Promise<T> {
    if (!this.hasReplicas || this.clock.nowMs() < this.skipUntil) return attempt('master');
    try {
      return await attempt('slave');
    } catch (error) {
      if (!isConnectionFailure(error)) throw error;
      this.skipUntil = this.clock.nowMs() + REPLICA_RETRY_AFTER_MS;
      this.logger.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        `read replica unreachable; reading from the primary for ${REPLICA_RETRY_AFTER_MS} ms`,
      );
      return attempt('master');
    }
  }
}
