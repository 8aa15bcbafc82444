import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { CaseEntity } from '../../cases/entities/case.entity';

export type ConversationStatus = 'active' | 'archived' | 'deleted';

/** Why an ended conversation ended: a client's POST …/end, or the idle sweep. */
export type ConversationEndedReason = 'request' | 'idle';

/**
 * A live transcription session. Counters are maintained by the turn-persistence
 * worker in the same statement that inserts turns, from the rows actually inserted.
 */
@Entity('conversations')
@Check('conversations_status_check', `status IN ('active', 'archived', 'deleted')`)
@Check('conversations_ended_reason_check', `ended_reason IN ('request', 'idle')`)
// Name unique among active conversations: partial functional index in the migration.
@Index('conversations_active_name_key', { synchronize: false })
export class ConversationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Index()
  @Column({ type: 'uuid', nullable: true })
  caseId!: string | null;

  @ManyToOne(() => CaseEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'case_id' })
  case?: CaseEntity | null;

  @Index()
  @Column({ type: 'varchar', length: 16, default: 'active' })
  status!: ConversationStatus;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  @Column({ type: 'text', nullable: true, select: false })
  joinPasswordHash!: string | null;

  /** First day of the creation month: the partition every turn of this conversation lives in. */
  @Column({ type: 'date' })
  partitionMonth!: string;

  @Column({ type: 'bigint', default: 0 })
  turnsCount!: string;

  @Column({ type: 'bigint', default: 0 })
  totalProcessingTimeMs!: string;

  @Column({ type: 'double precision', default: 0 })
  confidenceSum!: number;

  @Column({ type: 'timestamptz', nullable: true })
  lastActivityAt!: Date | null;

  @Column({ type: 'uuid' })
  createdBy!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'created_by' })
  creator?: UserEntity;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  endedAt!: Date | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  endedReason!: ConversationEndedReason | null;

  /** SHA-256 over the persisted turns in messageNumber order, set when the conversation ends. */
  @Column({ type: 'char', length: 64, nullable: true })
  sealHash!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  sealedAt!: Date | null;

  @VersionColumn({ default: 1 })
  version!: number;
}
