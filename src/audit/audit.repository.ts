import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Pool, Query, QueryArrayConfig } from 'pg';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { ReplicaReads } from '../core/database/replica-reads';
import {
  ChainedContent,
  chainHash,
  ChainStart,
  CURRENT_HASH_VERSION,
  GENESIS,
  HashVersion,
  StoredEntry,
} from './audit-chain';
import { STORED_ROW_COLUMNS, StoredRow, storedEntry } from './stored-entry';
import { AuditLogEntity } from './entities/audit-log.entity';
import { AuditAction } from './activity-types';

/** Serialises chain appends across every process; the value is arbitrary but fixed. */
const AUDIT_CHAIN_LOCK = 7_314_159_265;

/** Stored entries hold whatever the table holds; a new one names a declared action. */
export type NewAuditEntry = Omit<ChainedContent, 'id' | 'seq' | 'hashVersion' | 'action'> & {
  action: AuditAction;
};
export type ChainRow = ChainedContent & { prevHash: string; hash: string };

/** A contiguous part of the chain: ids after `after` up to `last` (or the end). */
export interface ChainSpan {
  after: string;
  last: string | null;
  /** The entry before the span's first one (its hash, seq and version), or the genesis. */
  start: ChainStart;
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  caseId?: string;
  outcome?: 'success' | 'failure';
  from?: Date;
  to?: Date;
  after?: string;
  /** Without: chain order (id). */
  sort?: 'occurredAt' | '-occurredAt';
}

// `a.id`, not `id`: ORDER BY would otherwise sort by the text alias ("10" < "9").
const WALK_SQL = `
  SELECT ${STORED_ROW_COLUMNS}
    FROM audit_logs a
   WHERE a.id > $1
     AND ($2::bigint IS NULL OR a.id <= $2)
   ORDER BY a.id`;

@Injectable()
export class AuditRepository {
  /**
   * Without `replica` (a repository made with `new` by a script or a test, to append or
   * walk the chain), the list reads the primary like everything else.
   */
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional() private readonly replica?: ReplicaReads,
  ) {}

  /**
   * Appends one entry to the chain inside `manager`'s transaction. The advisory lock
   * makes "read the head's hash and seq, allocate the id, insert" atomic across writers,
   * so the chain never forks and seq has no gaps (a rolled-back append releases the lock
   * without having used its seq); it is released when the surrounding transaction ends.
   */
  async append(entry: NewAuditEntry, manager: EntityManager): Promise<ChainRow> {
    const [row] = await this.appendMany([entry], manager);
    return row!;
  }

  /**
   * Chains `entries` in order, under the chain lock, with one read of the chain's head and
   * one INSERT however many there are (a grouped commit audits many files at once).
   */
  async appendMany(entries: NewAuditEntry[], manager: EntityManager): Promise<ChainRow[]> {
    if (entries.length === 0) return [];
    await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
    const [head] = await manager.query<
      { ids: string[]; prev: string | null; seq: string | null }[]
    >(
      `SELECT array(SELECT nextval('audit_logs_id_seq')::text FROM generate_series(1, $1)) AS ids,
              h.hash AS prev, h.seq::text AS seq
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT hash, seq FROM audit_logs ORDER BY id DESC LIMIT 1) AS h ON true`,
      [entries.length],
    );
    const ids = [...head!.ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    let prevHash = head!.prev ?? GENESIS.hash;
    let seq = head!.seq === null ? GENESIS.seq : Number(head!.seq);
    const rows = entries.map((entry, i): ChainRow => {
      const content = { ...entry, id: ids[i]!, seq: ++seq, hashVersion: CURRENT_HASH_VERSION };
      const hash = chainHash(prevHash, content);
      const row = { ...content, prevHash, hash };
      prevHash = hash;
      return row;
    });
    const column = <T>(pick: (row: ChainRow) => T): T[] => rows.map(pick);
    await manager.query(
      `INSERT INTO audit_logs (id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                               resource_id, case_id, outcome, details, request_id, prev_hash, hash,
                               seq, hash_version)
       SELECT id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type, resource_id,
              case_id, outcome, details::jsonb, request_id, prev_hash, hash, seq, $16::smallint
         FROM unnest($1::bigint[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::text[],
                     $13::text[], $14::text[], $15::bigint[])
           AS t(id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type, resource_id,
                case_id, outcome, details, request_id, prev_hash, hash, seq)`,
      [
        column((r) => r.id),
        column((r) => r.occurredAt),
        column((r) => r.actorId),
        column((r) => r.actorIp),
        column((r) => r.userAgent),
        column((r) => r.action),
        column((r) => r.resourceType),
        column((r) => r.resourceId),
        column((r) => r.caseId),
        column((r) => r.outcome),
        column((r) => JSON.stringify(r.details)),
        column((r) => r.requestId),
        column((r) => r.prevHash),
        column((r) => r.hash),
        column((r) => r.seq),
        CURRENT_HASH_VERSION,
      ],
    );
    return rows;
  }

  /** Runs `work` in a transaction of its own, for entries not tied to another change. */
  inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** A page of entries, from a replica when there is one (SPEC section 12: lists may lag). */
  list(filter: AuditFilter, limit: number): Promise<AuditLogEntity[]> {
    const page = (manager: EntityManager) => this.page(manager, filter, limit);
    return this.replica ? this.replica.read(page) : page(this.dataSource.manager);
  }

  private page(
    manager: EntityManager,
    filter: AuditFilter,
    limit: number,
  ): Promise<AuditLogEntity[]> {
    const query = manager.getRepository(AuditLogEntity).createQueryBuilder('a');
    if (filter.actorId) query.andWhere('a.actorId = :actorId', { actorId: filter.actorId });
    if (filter.action) query.andWhere('a.action = :action', { action: filter.action });
    if (filter.resourceType)
      query.andWhere('a.resourceType = :resourceType', { resourceType: filter.resourceType });
    if (filter.resourceId)
      query.andWhere('a.resourceId = :resourceId', { resourceId: filter.resourceId });
    if (filter.caseId) query.andWhere('a.caseId = :caseId', { caseId: filter.caseId });
    if (filter.outcome) query.andWhere('a.outcome = :outcome', { outcome: filter.outcome });
    if (filter.from) query.andWhere('a.occurredAt >= :from', { from: filter.from });
    if (filter.to) query.andWhere('a.occurredAt < :to', { to: filter.to });
    if (!filter.sort) {
      if (filter.after) query.andWhere('a.id > :after', { after: filter.after });
      return query.orderBy('a.id', 'ASC').limit(limit).getMany();
    }
    // Keyset on (occurred_at, id): stamps need not follow ids, so the cursor entry's own
    // stamp is the boundary and the id breaks ties; pages neither repeat nor skip entries.
    const direction = filter.sort === '-occurredAt' ? 'DESC' : 'ASC';
    if (filter.after) {
      query.andWhere(
        `(a.occurred_at, a.id) ${direction === 'DESC' ? '<' : '>'} ` +
          '(SELECT c.occurred_at, c.id FROM audit_logs c WHERE c.id = :after)',
        { after: filter.after },
      );
    }
    return query
      .orderBy('a.occurredAt', direction)
      .addOrderBy('a.id', direction)
      .limit(limit)
      .getMany();
  }

  /**
   * The part of the chain a time range selects, or null when it selects nothing.
   *
   * A time range selects a contiguous part of the chain: from the first entry (by id)
   * stamped at or after `from` to the last one stamped before `to`, with every entry in
   * between. Stamps need not follow chain order (an entry is stamped before it waits for
   * the chain lock, and replicas' clocks differ), so filtering each row by time would
   * leave holes in the chain and report breaks that are not there.
   */
  async chainSpan(range: { from?: Date; to?: Date }): Promise<ChainSpan | null> {
    let after = '0';
    let last: string | null = null;
    if (range.from) {
      const [first] = await this.dataSource.query<{ id: string | null }[]>(
        'SELECT min(id)::text AS id FROM audit_logs WHERE occurred_at >= $1',
        [range.from],
      );
      if (!first?.id) return null;
      after = (BigInt(first.id) - 1n).toString();
    }
    if (range.to) {
      const [end] = await this.dataSource.query<{ id: string | null }[]>(
        'SELECT max(id)::text AS id FROM audit_logs WHERE occurred_at < $1',
        [range.to],
      );
      if (!end?.id) return null;
      last = end.id;
    }
    const [previous] = await this.dataSource.query<
      { hash: string; seq: string; hash_version: HashVersion }[]
    >(
      'SELECT hash, seq::text AS seq, hash_version FROM audit_logs WHERE id <= $1 ORDER BY id DESC LIMIT 1',
      [after],
    );
    const start: ChainStart = previous
      ? { hash: previous.hash, seq: Number(previous.seq), hashVersion: previous.hash_version }
      : GENESIS;
    return { after, last, start };
  }

  /**
   * Streams the span's entries to `visit` in chain order, until it returns false.
   * One query whose rows are handled as they arrive, while Postgres sends the next:
   * no page is held in memory, and short-lived rows keep garbage collection cheap.
   * Array rows of text rather than entities or Dates: reading dominates the cost.
   */
  async walk(span: ChainSpan, visit: (entry: StoredEntry) => boolean): Promise<void> {
    const config: QueryArrayConfig<(string | null)[]> = {
      text: WALK_SQL,
      values: [span.after, span.last],
      rowMode: 'array',
    };
    const client = await this.pool().connect();
    // Stopped early or failed: the connection is closed, which also ends the query
    // without reading the rest, rather than returned to the pool.
    let done = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const query = client.query(new Query(config));
        query.on('row', (row: StoredRow) => {
          if (done) return;
          // Inside pg's socket handler: a throw here would take the process down.
          try {
            if (visit(storedEntry(row))) return;
            resolve();
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
          done = true;
        });
        query.on('end', () => resolve());
        query.on('error', (error) => {
          done = true;
          reject(error);
        });
      });
    } finally {
      client.release(done);
    }
  }

  /** The pg pool itself: TypeORM's query() cannot ask for array rows. */
  private pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }
}
