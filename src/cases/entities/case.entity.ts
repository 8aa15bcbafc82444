import {
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
import { CasePriorityEntity, CaseStatusEntity } from './lookups.entity';

export type CaseStatus = 'active' | 'pending' | 'closed';
export type CasePriority = 'high' | 'medium' | 'low';

@Entity('cases')
@Index('cases_search_vector_idx', { synchronize: false })
@Index('cases_transcripts_search_idx', { synchronize: false })
@Index('cases_live_created_idx', { synchronize: false })
@Index('cases_live_priority_idx', { synchronize: false })
// The few deleted cases: search checks "not deleted" here instead of fetching each case.
@Index('cases_deleted_idx', ['id'], { where: 'deleted_at IS NOT NULL' })
export class CaseEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index({ unique: true })
  @Column({ type: 'varchar', length: 32 })
  caseCode!: string;

  @Column({ type: 'varchar', length: 300 })
  title!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Index()
  @Column({ type: 'varchar', length: 32 })
  status!: CaseStatus;

  @ManyToOne(() => CaseStatusEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'status', referencedColumnName: 'code' })
  statusRef?: CaseStatusEntity;

  @Index()
  @Column({ type: 'varchar', length: 32 })
  priority!: CasePriority;

  /** Copy of the priority's weight, kept by triggers, so sorting by priority can use an index. */
  @Column({ type: 'integer', default: 0, select: false, insert: false, update: false })
  priorityWeight?: number;

  @ManyToOne(() => CasePriorityEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'priority', referencedColumnName: 'code' })
  priorityRef?: CasePriorityEntity;

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
  closedAt!: Date | null;

  /** Soft delete: a deleted case is invisible everywhere. */
  @Column({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  /** Set while a legal hold protects the case's audio from deletion and archiving. */
  @Column({ type: 'timestamptz', nullable: true })
  legalHoldAt!: Date | null;

  @Column({ type: 'text', nullable: true })
  legalHoldReason!: string | null;

  @VersionColumn({ default: 1 })
  version!: number;

  /** Text of the case's notes, appended by a trigger on case_notes. */
  @Column({ type: 'tsvector', nullable: true, select: false, insert: false, update: false })
  notesSearch?: string | null;

  /**
   * English lexemes of the latest transcripts of the case's live audio; kept by triggers,
   * GIN-indexed on its own: `q` matches it or `searchVector`.
   */
  @Column({ type: 'tsvector', nullable: true, select: false, insert: false, update: false })
  transcriptsSearch?: string | null;

  /** Maintained by a trigger from code, title, description and notes; GIN-indexed. */
  @Column({ type: 'tsvector', nullable: true, select: false, insert: false, update: false })
  searchVector?: string | null;
}
