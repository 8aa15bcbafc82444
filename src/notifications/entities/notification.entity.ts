import {
  Column,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import type { NotificationType } from '../../core/events/domain-event';

/**
 * One notification for one user (SPEC section 11), written in the transaction of the
 * change that caused it. `seq` orders a user's list (newest first) and pages it; the
 * public id stays a UUID like every other resource.
 */
@Entity('notifications')
@Index('notifications_user_seq_idx', ['userId', 'seq'])
@Index('notifications_unread_idx', ['userId', 'seq'], { where: 'read_at IS NULL' })
@Index('notifications_read_at_idx', ['readAt'], { where: 'read_at IS NOT NULL' })
export class NotificationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'bigint' })
  @Generated('increment')
  seq!: string;

  @Column({ type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 64 })
  type!: NotificationType;

  @Column({ type: 'varchar', length: 300 })
  title!: string;

  @Column({ type: 'varchar', length: 32 })
  resourceType!: string;

  @Column({ type: 'varchar', length: 64 })
  resourceId!: string;

  @Column({ type: 'uuid', nullable: true })
  caseId!: string | null;

  @Column({ type: 'jsonb', default: () => `'{}'` })
  data!: Record<string, unknown>;

  @Column({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  readAt!: Date | null;
}
