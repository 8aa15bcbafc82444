import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserEntity } from '../entities/user.entity';

/**
 * An account at an OpenID provider, known by its issuer and subject (the only pair the
 * OIDC spec guarantees stable and unique), signed in as one local user.
 */
@Entity('user_identities')
@Index(['issuer', 'subject'], { unique: true })
export class UserIdentityEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 2048 })
  issuer!: string;

  /** `sub`: at most 255 ASCII characters (OpenID Connect Core 1.0, section 2). */
  @Column({ type: 'varchar', length: 255 })
  subject!: string;

  /** How the identity came to this user: `created` on first sign-in or `email` (verified). */
  @Column({ type: 'varchar', length: 16 })
  linkedBy!: 'created' | 'email';

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  lastLoginAt!: Date | null;
}
