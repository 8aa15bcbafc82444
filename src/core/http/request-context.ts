import { Injectable } from '@nestjs/common';
import { ClsService, ClsStore } from 'nestjs-cls';
import type { Actor } from '../security/actor';

export interface VerbatimClsStore extends ClsStore {
  ip?: string;
  userAgent?: string;
  actor?: Actor;
}

/**
 * What is known about the current request wherever code runs: its id, the caller's
 * address and agent, and the authenticated actor. Backed by AsyncLocalStorage.
 */
@Injectable()
export class RequestContext {
  constructor(private readonly cls: ClsService<VerbatimClsStore>) {}

  get requestId(): string | undefined {
    return this.cls.isActive() ? this.cls.getId() : undefined;
  }

  get ip(): string | undefined {
    return this.cls.isActive() ? this.cls.get('ip') : undefined;
  }

  get userAgent(): string | undefined {
    return this.cls.isActive() ? this.cls.get('userAgent') : undefined;
  }

  get actor(): Actor | undefined {
    return this.cls.isActive() ? this.cls.get('actor') : undefined;
  }

  setActor(actor: Actor): void {
    if (this.cls.isActive()) this.cls.set('actor', actor);
  }
}
