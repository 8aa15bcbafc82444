import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { HashVersion } from './audit-chain';
import { AuditCheckpointEntity } from './entities/audit-checkpoint.entity';

/** The chain's newest entry and how many entries the chain holds, read in one snapshot. */
export interface ChainHead {
  id: string;
  seq: number;
  hash: string;
  count: number;
}

export type NewCheckpoint = Pick<
  AuditCheckpointEntity,
  'lastId' | 'lastSeq' | 'lastHash' | 'count' | 'at' | 'keyId' | 'signature'
>;

/** Writes and reads `audit_checkpoints`; reads the head of `audit_logs` for them. */
@Injectable()
export class AuditCheckpointsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo() {
    return this.dataSource.getRepository(AuditCheckpointEntity);
  }

  /**
   * One statement, so one snapshot: appends take the chain lock and commit in id order,
   * so the newest entry and the count agree. Null for an empty chain.
   */
  async head(): Promise<ChainHead | null> {
    const [row] = await this.dataSource.query<
      { id: string; seq: string; hash: string; count: string }[]
    >(
      `SELECT h.id::text AS id, h.seq::text AS seq, h.hash, (SELECT count(*) FROM audit_logs)::text AS count
         FROM (SELECT id, seq, hash FROM audit_logs ORDER BY id DESC LIMIT 1) h`,
    );
    return row
      ? { id: row.id, seq: Number(row.seq), hash: row.hash, count: Number(row.count) }
      : null;
  }

  /** The entry a checkpoint names, as the chain holds it now. */
  async entry(id: string): Promise<{ seq: number; hash: string; hashVersion: HashVersion } | null> {
    const [row] = await this.dataSource.query<
      { seq: string; hash: string; hash_version: HashVersion }[]
    >('SELECT seq::text AS seq, hash, hash_version FROM audit_logs WHERE id = $1', [id]);
    return row ? { seq: Number(row.seq), hash: row.hash, hashVersion: row.hash_version } : null;
  }

  latest(): Promise<AuditCheckpointEntity | null> {
    return this.repo().createQueryBuilder('c').orderBy('c.id', 'DESC').limit(1).getOne();
  }

  findById(id: string): Promise<AuditCheckpointEntity | null> {
    return this.repo().findOneBy({ id });
  }

  insert(checkpoint: NewCheckpoint): Promise<AuditCheckpointEntity> {
    return this.repo().save(this.repo().create(checkpoint));
  }

  /** Oldest first, after the cursor `after` (a checkpoint id). */
  list(after: string | undefined, limit: number): Promise<AuditCheckpointEntity[]> {
    const query = this.repo().createQueryBuilder('c');
    if (after) query.where('c.id > :after', { after });
    return query.orderBy('c.id', 'ASC').limit(limit).getMany();
  }

  /** Checkpoints naming an entry in the chain span (after, last]; `last` null: to the end. */
  inSpan(after: string, last: string | null): Promise<AuditCheckpointEntity[]> {
    const query = this.repo().createQueryBuilder('c').where('c.lastId > :after', { after });
    if (last !== null) query.andWhere('c.lastId <= :last', { last });
    return query.orderBy('c.id', 'ASC').getMany();
  }
}
