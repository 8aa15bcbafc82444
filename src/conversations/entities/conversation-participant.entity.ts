import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { UserEntity } from '../../auth/entities/user.entity';
import { ConversationEntity } from './conversation.entity';

@Entity('conversation_participants')
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

  /** `join` when the user joined by name and password. */
  @Column({ type: 'varchar', length: 16, default: 'invite' })
  via!: 'creator' | 'invite' | 'join';

  @Column({ type: 'timestamptz', default: () => 'now()' })
  joinedAt!: Date;
}
