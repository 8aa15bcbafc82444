import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Per user per month counters, maintained by atomic upserts (never by scanning). */
@Entity('usage_statistics')
export class UsageStatisticEntity {
  @PrimaryColumn({ type: 'uuid' })
  userId!: string;

  /** First day of the month (UTC). */
  @PrimaryColumn({ type: 'date' })
  month!: string;

  @Column({ type: 'integer', default: 0 })
  filesUploaded!: number;

  @Column({ type: 'bigint', default: 0 })
  bytesUploaded!: string;

  @Column({ type: 'double precision', default: 0 })
  audioSeconds!: number;

  @Column({ type: 'integer', default: 0 })
  transcriptions!: number;

  @Column({ type: 'integer', default: 0 })
  jobsSucceeded!: number;

  @Column({ type: 'integer', default: 0 })
  jobsFailed!: number;

  @Column({ type: 'bigint', default: 0 })
  turnsIngested!: string;
}
