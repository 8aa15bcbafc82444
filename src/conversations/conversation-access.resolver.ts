import { Injectable } from '@nestjs/common';
import { LastKnown } from '../core/database/last-known';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { ConversationsRepository } from './conversations.repository';

/** Participants, and participants of the linked case, see a conversation. */
@Injectable()
export class ConversationAccessResolver implements ResourceAccessResolver {
  /** Keeps turn ingestion answering while Postgres is unreachable (see LastKnown). */
  private readonly lastKnown = new LastKnown<Participation | null | undefined>();

  constructor(private readonly conversations: ConversationsRepository) {}

  participation(actor: Actor, id: string): Promise<Participation | null | undefined> {
    return this.lastKnown.get(`${id}:${actor.userId}`, () =>
      this.conversations.participation(id, actor.userId),
    );
  }
}
