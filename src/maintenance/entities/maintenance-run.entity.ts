import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type MaintenanceKind = 'storage-check' | 'purge' | 'backup';

/** One run of a lifecycle job: what it found or did, or why it failed. */
@Entity('maintenance_runs')
@Index('maintenance_runs_kind_finished_idx', ['kind', 'finishedAt'])
export class MaintenanceRunEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: MaintenanceKind;

  @Column({ type: 'timestamptz' })
  startedAt!: Date;

  @Column({ type: 'timestamptz' })
  finishedAt!: Date;

  @Column({ type: 'boolean' })
  succeeded!: boolean;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  result!: Record<string, unknown>;

  @Column({ type: 'text', nullable: true })
  error!: string | null;
}
