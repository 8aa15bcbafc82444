import { Column, Entity, PrimaryColumn } from 'typeorm';

export type CleaningLevel = 'none' | 'light' | 'full';

export interface TurnCorrection {
  original: string;
  corrected: string;
  /** A number 0..1, or the level a seed engine sends instead (`HIGH`, `MEDIUM`, `LOW`). */
  confidence: number | 'HIGH' | 'MEDIUM' | 'LOW';
  reason: string;
  position: { start: number; end: number };
  contextRelevance?: string;
}

/**
 * A persisted turn. The table is range-partitioned by `partition_month` (the month the
 * conversation started), which TypeORM cannot describe, so the migration owns its DDL
 * and schema sync skips it (`synchronize: false`). Rows are written only by the
 * turn-persistence worker with one set-based statement per batch.
 */
@Entity('turns', { synchronize: false })
export class TurnEntity {
  @PrimaryColumn({ type: 'bigint' })
  id!: string;

  @PrimaryColumn({ type: 'date' })
  partitionMonth!: string;

  @Column({ type: 'uuid' }) conversationId!: string;
  @Column({ type: 'integer' }) messageNumber!: number;
  @Column({ type: 'varchar' }) speaker!: string;
  @Column({ type: 'text' }) rawText!: string;
  @Column({ type: 'text', nullable: true }) cleanedText!: string | null;
  @Column({ type: 'timestamptz' }) spokenAt!: Date;
  @Column({ type: 'real' }) confidence!: number;
  @Column({ type: 'boolean' }) cleaningApplied!: boolean;
  @Column({ type: 'varchar' }) cleaningLevel!: CleaningLevel;
  @Column({ type: 'jsonb' }) corrections!: TurnCorrection[];
  @Column({ type: 'varchar', nullable: true }) contextDetected!: string | null;
  @Column({ type: 'varchar', nullable: true }) businessDomain!: string | null;
  @Column({ type: 'varchar', nullable: true }) conversationFlow!: string | null;
  @Column({ type: 'varchar', nullable: true }) aiModelUsed!: string | null;
  @Column({ type: 'boolean' }) transcriptionErrorDetected!: boolean;
  @Column({ type: 'integer', nullable: true }) processingTimeMs!: number | null;
  @Column({ type: 'integer', nullable: true }) slidingWindowSize!: number | null;
  @Column({ type: 'integer', nullable: true }) contextTurnsUsed!: number | null;
  @Column({ type: 'varchar', nullable: true }) engineRequestId!: string | null;
  @Column({ type: 'integer', nullable: true }) websocketLatencyMs!: number | null;
  @Column({ type: 'uuid', nullable: true }) ingestedBy!: string | null;
  /** 1 for the turn as posted, +1 per revision (PATCH); the row holds the latest. */
  @Column({ type: 'integer', default: 1 }) revision!: number;
  @Column({ type: 'timestamptz', nullable: true }) updatedAt!: Date | null;
  @Column({ type: 'timestamptz' }) receivedAt!: Date;
  @Column({ type: 'timestamptz' }) persistedAt!: Date;
}
