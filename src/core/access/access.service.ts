import { Injectable } from '@nestjs/common';
import { CacheInvalidation } from '../cache/cache-invalidation';
import { CoherentCache } from '../cache/coherent-cache';
import { LastKnown } from '../database/last-known';
import type { Actor } from '../security/actor';
import {
  AccessDecision,
  AccessLevel,
  decide,
  Participation,
  ResourceKind,
  Standing,
} from './access-decision';
import { AccessRepository, ResourceStanding } from './access.repository';

/**
 * The one resolver of "may this actor touch this resource": the access guard asks it
 * for every route that declares a `resource`, and services ask it for rules beyond the
 * route's own resource (linking a conversation to a case).
 *
 * Cases and conversations are read on almost every request, so their standings are
 * kept in CoherentCaches tagged `case:<id>` / `conversation:<id>` (and the linked
 * `case:<id>`), dropped when participants, deletion or the link change. Conversation
 * standings also fall back to the last known value while Postgres is unreachable, so
 * turn ingestion keeps answering during an outage. Audio and transcription standings
 * are read fresh (their deletion has no invalidation tag).
 */
@Injectable()
export class AccessService {
  private readonly cases: CoherentCache<ResourceStanding | undefined>;
  private readonly conversations: CoherentCache<ResourceStanding | undefined>;
  private readonly lastKnownConversations = new LastKnown<ResourceStanding | undefined>();

  constructor(
    private readonly repository: AccessRepository,
    invalidation: CacheInvalidation,
  ) {
    this.cases = invalidation.create({ maxEntries: 50_000, ttlMs: 10 * 60_000 });
    this.conversations = invalidation.create({ maxEntries: 50_000, ttlMs: 10 * 60_000 });
  }

  /** The caller's standing on one resource (see `Standing`). */
  async standing(kind: ResourceKind, actor: Actor, id: string): Promise<Standing> {
    const key = `${id}:${actor.userId}`;
    const load = () => this.load(kind, id, actor.userId);
    switch (kind) {
      case 'case':
        return (await this.cases.get(key, load, () => [`case:${id}`]))?.role;
      case 'conversation': {
        const found = await this.conversations.get(
          key,
          () => this.lastKnownConversations.get(key, load),
          (loaded) => [`conversation:${id}`, ...(loaded?.caseId ? [`case:${loaded.caseId}`] : [])],
        );
        return found?.role;
      }
      case 'audio':
      case 'transcription':
        return (await load())?.role;
    }
  }

  /** The decision for `level`, with the standing it was made on (for messages). */
  async check(
    kind: ResourceKind,
    actor: Actor,
    id: string,
    level: AccessLevel,
  ): Promise<{ decision: AccessDecision; participation: Participation | null | undefined }> {
    const participation = await this.standing(kind, actor, id);
    return { decision: decide(actor, participation, level), participation };
  }

  private async load(
    kind: ResourceKind,
    id: string,
    userId: string,
  ): Promise<ResourceStanding | undefined> {
    return (await this.repository.standings(kind, [id], userId)).get(id);
  }
}
