import { Injectable } from '@nestjs/common';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { ConversationsRepository } from './conversations.repository';

/** Participants, and participants of the linked case, see a conversation. */
@Injectable()
export class ConversationAccessResolver implements ResourceAccessResolver {
  constructor(private readonly conversations: ConversationsRepository) {}

  participation(actor: Actor, id: string): Promise<Participation | null | undefined> {
    return this.conversations.participation(id, actor.userId);
  }
}
