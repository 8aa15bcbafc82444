import { Injectable } from '@nestjs/common';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { CoherentCache } from '../core/cache/coherent-cache';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { CasesRepository } from './cases.repository';

/** Answers the access guard's resource check for routes that declare `resource: 'case'`. */
@Injectable()
export class CasesAccessResolver implements ResourceAccessResolver {
  /** Kept until the case's participants or its deletion change (tag `case:<id>`). */
  private readonly cache: CoherentCache<Participation | null | undefined>;

  constructor(
    private readonly cases: CasesRepository,
    invalidation: CacheInvalidation,
  ) {
    this.cache = invalidation.create({ maxEntries: 50_000, ttlMs: 10 * 60_000 });
  }

  participation(actor: Actor, caseId: string): Promise<Participation | null | undefined> {
    return this.cache.get(
      `${caseId}:${actor.userId}`,
      () => this.cases.participation(caseId, actor.userId),
      () => [`case:${caseId}`],
    );
  }
}
