import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ChainedContent, chainHash, GENESIS_HASH } from './audit-chain';
import { AuditLogEntity } from './entities/audit-log.entity';

/** Serialises chain appends across every process; the value is arbitrary but fixed. */
const AUDIT_CHAIN_LOCK = 7_314_159_265;

export type NewAuditEntry = Omit<ChainedContent, 'id'>;
export type ChainRow = ChainedContent & { prevHash: string; hash: string };

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
}

@Injectable()
export class AuditRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Appends one entry to the chain inside `manager`'s transaction. The advisory lock
   * makes "read the last hash, allocate the id, insert" atomic across writers, so the
   * chain never forks; it is released when the surrounding transaction ends.
   */
  async append(entry: NewAuditEntry, manager: EntityManager): Promise<ChainRow> {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]);
    const [head] = await manager.query<{ id: string; prev: string | null }[]>(
      `SELECT nextval('audit_logs_id_seq')::text AS id,
              (SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1) AS prev`,
    );
    const id = head!.id;
    const prevHash = head!.prev ?? GENESIS_HASH;
    const hash = chainHash(prevHash, { ...entry, id });
    await manager.query(
      `INSERT INTO audit_logs (id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                               resource_id, case_id, outcome, details, request_id, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        id,
        entry.occurredAt,
        entry.actorId,
        entry.actorIp,
        entry.userAgent,
        entry.action,
        entry.resourceType,
        entry.resourceId,
        entry.caseId,
        entry.outcome,
        JSON.stringify(entry.details),
        entry.requestId,
        prevHash,
        hash,
      ],
    );
    return { ...entry, id, prevHash, hash };
  }

  /** Runs `work` in a transaction of its own, for entries not tied to another change. */
  inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async list(filter: AuditFilter, limit: number): Promise<AuditLogEntity[]> {
    const query = this.dataSource.getRepository(AuditLogEntity).createQueryBuilder('a');
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
    if (filter.after) query.andWhere('a.id > :after', { after: filter.after });
    return query.orderBy('a.id', 'ASC').limit(limit).getMany();
  }

  /**
   * The entries to verify, in chain order, a batch at a time (keyset pagination).
   * Raw rows rather than entities: hydration would dominate the cost of verification.
   *
   * A time range selects a contiguous part of the chain: from the first entry (by id)
   * stamped at or after `from` to the last one stamped before `to`, with every entry in
   * between. Stamps need not follow chain order (an entry is stamped before it waits for
   * the chain lock, and replicas' clocks differ), so filtering each row by time would
   * leave holes in the chain and report breaks that are not there.
   */
  async *walk(range: { from?: Date; to?: Date }, batchSize = 10_000): AsyncGenerator<ChainRow[]> {
    let after = '0';
    let last: string | null = null;
    if (range.from) {
      const [first] = await this.dataSource.query<{ id: string | null }[]>(
        'SELECT min(id)::text AS id FROM audit_logs WHERE occurred_at >= $1',
        [range.from],
      );
      if (!first?.id) return;
      after = (BigInt(first.id) - 1n).toString();
    }
    if (range.to) {
      const [end] = await this.dataSource.query<{ id: string | null }[]>(
        'SELECT max(id)::text AS id FROM audit_logs WHERE occurred_at < $1',
        [range.to],
      );
      if (!end?.id) return;
      last = end.id;
    }
    const fetch = (from: string): Promise<ChainRow[]> =>
      // `a.id`, not `id`: ORDER BY would otherwise sort by the text alias ("10" < "9").
      this.dataSource.query<ChainRow[]>(
        `SELECT a.id::text AS id, a.occurred_at AS "occurredAt", a.actor_id AS "actorId",
                a.actor_ip AS "actorIp", a.user_agent AS "userAgent", a.action,
                a.resource_type AS "resourceType", a.resource_id AS "resourceId",
                a.case_id AS "caseId", a.outcome, a.details, a.request_id AS "requestId",
                a.prev_hash AS "prevHash", a.hash
           FROM audit_logs a
          WHERE a.id > $1
            AND ($2::bigint IS NULL OR a.id <= $2)
          ORDER BY a.id
          LIMIT $3`,
        [from, last, batchSize],
      );
    // Fetch the next batch while the caller hashes this one.
    let pending = fetch(after);
    for (;;) {
      const batch = await pending;
      if (batch.length === 0) return;
      const more = batch.length === batchSize;
      if (more) {
        pending = fetch(batch[batch.length - 1]!.id);
        // The caller may stop early (a broken chain); a late failure must not go unhandled.
        pending.catch(() => undefined);
      }
      yield batch;
      if (!more) return;
    }
  }

  /** Hash of the entry just before `id`, or the genesis hash for the first entry. */
  async hashBefore(id: string): Promise<string> {
    const [row] = await this.dataSource.query<{ hash: string }[]>(
      'SELECT hash FROM audit_logs WHERE id < $1 ORDER BY id DESC LIMIT 1',
      [id],
    );
    return row?.hash ?? GENESIS_HASH;
  }
}
