import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { ConversationEntity } from './conversation.entity';

/**
 * `owner` manages the conversation (participants, join password, case link, deletion);
 * `member` reads and ingests; `viewer` only reads. The creator is an owner.
 */
export type ConversationRole = 'owner' | 'member' | 'viewer';

export const CONVERSATION_ROLES: readonly ConversationRole[] = ['owner', 'member', 'viewer'];

@Entity('conversation_participants')
@Check('conversation_participants_role_check', `role IN ('owner', 'member', 'viewer')`)
@Index(['userId', 'conversationId'])
export class ConversationParticipantEntity {
  @PrimaryColumn({ type: 'uuid' })
  conversationId!: string;

  @PrimaryColumn({ type: 'uuid' })
  userId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'conversation_id' })
  conversation?: ConversationEntity;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 16, default: 'member' })
  role!: ConversationRole;

  /** `join` when the user joined by name and password. */
  @Column({ type: 'varchar', length: 16, default: 'invite' })
  via!: 'creator' | 'invite' | 'join';

  @Column({ type: 'timestamptz', default: () => 'now()' })
  joinedAt!: Date;
}
