import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { UsersRepository } from '../auth/users.repository';
import { NotFoundProblem } from '../core/http/problem.exception';
import { ConversationsErrorCode, ConversationsException } from './conversations.exception';
import { ConversationsRepository } from './conversations.repository';
import {
  AddConversationParticipantDto,
  UpdateConversationParticipantDto,
} from './dto/conversation.dto';
import { ConversationParticipantEntity } from './entities/conversation-participant.entity';

/**
 * Who takes part in a conversation, and as what (`owner`, `member`, `viewer`). The routes
 * take `manage` (an owner, or conversations:write with cases:all); what each role may do
 * is the access layer's (src/core/access), so every conversation route follows it.
 *
 * Every change runs under the conversation's row lock, so two concurrent removals or
 * demotions cannot leave it without an owner: the last owner can be neither removed nor
 * given another role (409). Changes are audited in their transaction; the participant
 * row's trigger (and the repository) invalidate the conversation's access tag, so cached
 * standings drop and open streams re-check at once.
 */
@Injectable()
export class ConversationParticipantsService {
  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly users: UsersRepository,
    private readonly audit: AuditService,
  ) {}

  list(conversationId: string): Promise<ConversationParticipantEntity[]> {
    return this.conversations.listParticipants(conversationId);
  }

  async add(
    conversationId: string,
    dto: AddConversationParticipantDto,
  ): Promise<ConversationParticipantEntity> {
    const user = await this.users.findById(dto.userId);
    if (!user?.isActive) throw new ConversationsException(ConversationsErrorCode.UnknownUser);
    return this.conversations.transaction(async (manager) => {
      const conversation = await this.conversations.lockLive(conversationId, manager);
      if (!conversation) throw new NotFoundProblem('conversation');
      if (await this.conversations.findParticipant(conversationId, dto.userId, manager)) {
        throw new ConversationsException(ConversationsErrorCode.AlreadyParticipant);
      }
      await this.conversations.addParticipant(
        { conversationId, userId: dto.userId, role: dto.role, via: 'invite' },
        manager,
      );
      await this.audit.record(
        {
          action: 'conversation.participant_add',
          resourceType: 'conversation',
          resourceId: conversationId,
          caseId: conversation.caseId ?? undefined,
          details: { userId: dto.userId, role: dto.role },
        },
        manager,
      );
      return (await this.conversations.findParticipant(conversationId, dto.userId, manager))!;
    });
  }

  /** In place, keeping how and when they joined. The role it already has changes nothing. */
  async changeRole(
    conversationId: string,
    userId: string,
    dto: UpdateConversationParticipantDto,
  ): Promise<ConversationParticipantEntity> {
    return this.conversations.transaction(async (manager) => {
      const conversation = await this.conversations.lockLive(conversationId, manager);
      if (!conversation) throw new NotFoundProblem('conversation');
      const participant = await this.conversations.findParticipant(conversationId, userId, manager);
      if (!participant) throw new ConversationsException(ConversationsErrorCode.NotParticipant);
      if (participant.role === dto.role) return participant;
      if (
        participant.role === 'owner' &&
        (await this.conversations.countOwners(conversationId, manager)) <= 1
      ) {
        throw new ConversationsException(
          ConversationsErrorCode.LastOwner,
          'The last owner of a conversation cannot be given another role; make someone else owner first.',
        );
      }
      const updated = await this.conversations.updateParticipantRole(
        conversationId,
        userId,
        dto.role,
        manager,
      );
      await this.audit.record(
        {
          action: 'conversation.participant_role_changed',
          resourceType: 'conversation',
          resourceId: conversationId,
          caseId: conversation.caseId ?? undefined,
          details: { userId, from: participant.role, to: dto.role },
        },
        manager,
      );
      return updated!;
    });
  }

  async remove(conversationId: string, userId: string): Promise<void> {
    await this.conversations.transaction(async (manager) => {
      const conversation = await this.conversations.lockLive(conversationId, manager);
      if (!conversation) throw new NotFoundProblem('conversation');
      const participant = await this.conversations.findParticipant(conversationId, userId, manager);
      if (!participant) throw new ConversationsException(ConversationsErrorCode.NotParticipant);
      if (
        participant.role === 'owner' &&
        (await this.conversations.countOwners(conversationId, manager)) <= 1
      ) {
        throw new ConversationsException(ConversationsErrorCode.LastOwner);
      }
      await this.conversations.removeParticipant(conversationId, userId, manager);
      await this.audit.record(
        {
          action: 'conversation.participant_remove',
          resourceType: 'conversation',
          resourceId: conversationId,
          caseId: conversation.caseId ?? undefined,
          details: { userId, role: participant.role },
        },
        manager,
      );
    });
  }
}
