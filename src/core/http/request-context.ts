import { asyncLocalStorage } from '@fastify/request-context';
import { Injectable } from '@nestjs/common';
import type { Actor } from '../security/actor';

/** What is known about the request (or job, or CLI command) the code runs for. */
export interface RequestStore {
  requestId?: string;
  ip?: string;
  userAgent?: string;
  actor?: Actor;
}

declare module '@fastify/request-context' {
  // The plugin's store is this object, filled per request in app.factory.ts.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging
  interface RequestContextData extends RequestStore {}
}

const storage = asyncLocalStorage as unknown as {
  getStore(): RequestStore | undefined;
  run<T>(store: RequestStore, fn: () => T): T;
};

/**
 * The current request's id, the caller's address and agent, and the authenticated
 * actor, wherever code runs. HTTP requests enter it through @fastify/request-context
 * (registered in app.factory.ts); jobs and CLI commands through `run()`.
 */
@Injectable()
export class RequestContext {
  /** The store of the current context, if any (also read by the logger's mixin). */
  static current(): RequestStore | undefined {
    return storage.getStore();
  }

  /** Runs `work` in a context of its own (a job, a CLI command). */
  static run<T>(store: RequestStore, work: () => T): T {
    return storage.run(store, work);
  }

  get requestId(): string | undefined {
    return storage.getStore()?.requestId;
  }

  get ip(): string | undefined {
    return storage.getStore()?.ip;
  }

  get userAgent(): string | undefined {
    return storage.getStore()?.userAgent;
  }

  get actor(): Actor | undefined {
    return storage.getStore()?.actor;
  }

  setActor(actor: Actor): void {
    const store = storage.getStore();
    if (store) store.actor = actor;
  }
}
