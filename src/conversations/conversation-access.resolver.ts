import { Injectable } from '@nestjs/common';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { CoherentCache } from '../core/cache/coherent-cache';
import { LastKnown } from '../core/database/last-known';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { ConversationsRepository } from './conversations.repository';

type Standing = Awaited<ReturnType<ConversationsRepository['participation']>>;

/** Participants, and participants of the linked case, see a conversation. */
@Injectable()
export class ConversationAccessResolver implements ResourceAccessResolver {
  /** Kept until the conversation's or its case's participants change. */
  private readonly cache: CoherentCache<Standing>;
  /** Keeps turn ingestion answering while Postgres is unreachable (see LastKnown). */
  private readonly lastKnown = new LastKnown<Standing>();

  constructor(
    private readonly conversations: ConversationsRepository,
    invalidation: CacheInvalidation,
  ) {
    this.cache = invalidation.create({ maxEntries: 50_000, ttlMs: 10 * 60_000 });
  }

  async participation(actor: Actor, id: string): Promise<Participation | null | undefined> {
    const key = `${id}:${actor.userId}`;
    const standing = await this.cache.get(
      key,
      () => this.lastKnown.get(key, () => this.conversations.participation(id, actor.userId)),
      (found) => [`conversation:${id}`, ...(found?.caseId ? [`case:${found.caseId}`] : [])],
    );
    return standing === undefined ? undefined : standing.role;
  }
}
