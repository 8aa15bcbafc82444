import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ActivityTypeEntity } from './activity-type.entity';

/**
 * Append-only, hash-chained audit entry. The database refuses UPDATE, DELETE and
 * TRUNCATE on this table (trigger in the migration); `hash` covers the canonical
 * content (with `seq` from hash version 2 on) and `prevHash`, so edits, deletions and
 * reordering are detectable.
 */
@Entity('audit_logs')
@Check('audit_logs_outcome_check', `outcome IN ('success', 'failure')`)
@Index(['actorId', 'id'])
@Index(['caseId', 'id'])
@Index(['resourceType', 'resourceId', 'id'])
@Index(['action', 'id'])
@Index(['occurredAt'])
export class AuditLogEntity {
  /** Allocated from audit_logs_id_seq inside the chain lock, so ids follow chain order. */
  @PrimaryColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ type: 'uuid', nullable: true })
  actorId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  actorIp!: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @ManyToOne(() => ActivityTypeEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'action', referencedColumnName: 'code' })
  activityType?: ActivityTypeEntity;

  @Column({ type: 'varchar', length: 64, nullable: true })
  resourceType!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  resourceId!: string | null;

  @Column({ type: 'uuid', nullable: true })
  caseId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: 'success' | 'failure';

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  @Column({ type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  @Column({ type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;

  /** 1, 2, 3, … in chain order without gaps, assigned under the chain lock. */
  @Index('audit_logs_seq_key', { unique: true })
  @Column({ type: 'bigint' })
  seq!: string;

  /** What `hash` covers: 1 (entries from before `seq`; not hashed) or 2 (`seq` hashed). */
  @Column({ type: 'smallint' })
  hashVersion!: number;
}
