import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';

/**
 * An outgoing webhook endpoint. `secret` signs every delivery (Standard Webhooks), so it is
 * kept as issued; it is never selected unless asked for and never returned after creation.
 */
@Entity('webhooks')
export class WebhookEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @Column({ type: 'varchar', length: 500, default: '' })
  description!: string;

  /** Event types delivered, or `*` for every type. */
  @Column({ type: 'text', array: true })
  events!: string[];

  @Column({ type: 'varchar', length: 64, select: false })
  secret!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  /** Deliveries that ended failed since the last success; 20 disable the endpoint. */
  @Column({ type: 'integer', default: 0 })
  consecutiveFailures!: number;

  @Column({ type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  @Column({ type: 'uuid', nullable: true })
  createdBy!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'created_by' })
  creator?: UserEntity | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
