import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { CaseEntity } from '../../cases/entities/case.entity';

/**
 * `queued` → `running` → `ready` (bundle stored) → `expired` (bundle removed after
 * EXPORT_TTL_HOURS); or `failed` once the job has used its attempts.
 */
export type ExportStatus = 'queued' | 'running' | 'ready' | 'failed' | 'expired';
export const EXPORT_STATUSES: readonly ExportStatus[] = [
  'queued',
  'running',
  'ready',
  'failed',
  'expired',
];

/**
 * One signed export of a case (SPEC section 13). The bundle itself is in storage
 * under `exports/<id>.tar`; this row says who asked, what state it is in, and what the
 * stored bundle is (size, manifest sha256, signing key) so a download can be checked against it.
 */
@Entity('case_exports')
@Check('case_exports_status_check', `status IN ('queued', 'running', 'ready', 'failed', 'expired')`)
@Index('case_exports_case_idx', ['caseId', 'createdAt'])
@Index('case_exports_expiry_idx', ['expiresAt'], { where: `status = 'ready'` })
export class CaseExportEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  caseId!: string;

  @ManyToOne(() => CaseEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'case_id' })
  case?: CaseEntity;

  @Column({ type: 'uuid' })
  requestedBy!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'requested_by' })
  requester?: UserEntity;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status!: ExportStatus;

  @Column({ type: 'varchar', length: 200 })
  jobId!: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  storageKey!: string | null;

  /** Bytes of the stored tar. */
  @Column({ type: 'bigint', nullable: true })
  sizeBytes!: string | null;

  /**
   * sha256 of the bundle's manifest.json: what the signature covers, and the download's
   * ETag. (No hash of the whole tar: a second sha256 pass over every byte halved the
   * export's throughput, and the manifest already pins every entry.)
   */
  @Column({ type: 'char', length: 64, nullable: true })
  manifestSha256!: string | null;

  /** The signing key's id (SigningKeys), also written into the manifest. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  keyId!: string | null;

  @Column({ type: 'integer', nullable: true })
  entryCount!: number | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  /** completedAt + EXPORT_TTL_HOURS; downloads are refused (410) from then on. */
  @Column({ type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  /** When the expiry sweep removed the bundle from storage. */
  @Column({ type: 'timestamptz', nullable: true })
  expiredAt!: Date | null;
}
