import { ExecutionContext, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Observable, Subscriber, Subscription } from 'rxjs';
import { CacheInvalidation } from '../cache/cache-invalidation';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../http/request-context';
import type { Actor } from '../security/actor';
import { StreamAccess } from './stream-access';
import { SLOT_RENEW_MS, StreamSlot, StreamSlots } from './stream-slots';

export interface GuardedStreamOptions<T> {
  /** From `@StreamContext()`: the route's access decision is re-run on this request. */
  context: ExecutionContext;
  /** The caller the guard resolved (`@CurrentActor()`). */
  actor: Actor;
  /**
   * Invalidation tags of what the stream shows (e.g. `conversation:<id>`, `case:<id>`);
   * read at open and again after every re-check, as they can change.
   */
  resourceTags: () => Promise<readonly string[]>;
  /** What to send; subscribed once the stream holds a slot, unsubscribed when it ends. */
  source: Observable<T>;
  /** `@SseSignal()`: aborted however the response ends, even if never subscribed. */
  signal?: AbortSignal;
}

/** One open stream and its re-check state. */
class Guarded<T> {
  tags = new Set<string>();
  /** Events held back while a re-check runs: sent if it passes, dropped if not. */
  held: T[] | undefined;
  checking = false;
  again = false;
  closed = false;
  upstream: Subscription | undefined;

  constructor(
    readonly options: GuardedStreamOptions<T>,
    readonly principalTags: readonly string[],
    readonly slot: StreamSlot,
    private readonly subscriber: Subscriber<T>,
  ) {}

  send(value: T): void {
    if (this.closed) return;
    if (this.held) this.held.push(value);
    else this.subscriber.next(value);
  }

  flush(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const value of held) this.send(value);
  }

  end(): void {
    if (this.closed) return;
    this.held = undefined;
    this.subscriber.complete();
  }
}

/**
 * Long-lived responses (Server-Sent Events) that end as soon as their caller loses
 * access (F1), and of which one user holds at most SSE_MAX_PER_USER (F6).
 *
 * A stream registers the invalidation tags its access depends on: the caller's
 * (`user:`, `session:`, `api-key:`) and the resource's. When CacheInvalidation reports
 * one of them (or `*`) — locally after the commit of a change, or through the database's
 * NOTIFY from any process — the stream re-runs the route's access decision and ends if it
 * no longer holds; a tag alone does not end it, since it fires for any change to e.g. the
 * case. Events that arrive while a re-check runs are held back until it passes, so
 * nothing the caller may no longer see is sent after the change. Every stream is also
 * re-checked every SSE_RECHECK_SECONDS, as a backstop (a missed notification, an access
 * token that expired).
 */
@Injectable()
export class GuardedStreams implements OnModuleDestroy {
  private readonly logger = new Logger(GuardedStreams.name);
  private readonly streams = new Set<Guarded<unknown>>();
  private readonly byTag = new Map<string, Set<Guarded<unknown>>>();
  private readonly recheckMs: number;
  private recheckTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly invalidation: CacheInvalidation,
    private readonly slots: StreamSlots,
    private readonly access: StreamAccess,
    config: AppConfig,
  ) {
    this.recheckMs = config.get('SSE_RECHECK_SECONDS') * 1000;
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Takes a slot for the caller (TooManyStreamsProblem, 429, when they hold the maximum)
   * and returns the guarded stream. Call it from the route handler, before any header is
   * sent, so the refusal is an ordinary problem response.
   */
  async open<T>(options: GuardedStreamOptions<T>): Promise<Observable<T>> {
    const slot = await this.slots.acquire(options.actor.userId);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.slots
        .release(slot)
        .catch((error: unknown) =>
          this.logger.warn({ err: String(error) }, 'could not release a stream slot'),
        );
    };
    // Also when the client left before the stream was subscribed (its teardown never runs).
    options.signal?.addEventListener('abort', release, { once: true });
    if (options.signal?.aborted) release();
    let resourceTags: readonly string[];
    try {
      resourceTags = await options.resourceTags();
    } catch (error) {
      release();
      throw error;
    }
    const principalTags = this.access.principalTags(options.actor);
    this.start();

    return new Observable<T>((subscriber) => {
      const stream = new Guarded<T>(options, principalTags, slot, subscriber);
      const entry = stream as Guarded<unknown>;
      this.streams.add(entry);
      this.retag(entry, [...principalTags, ...resourceTags]);
      stream.upstream = options.source.subscribe({
        next: (value) => stream.send(value),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      // Access may have changed between the guard's check and now, unheard: check once more.
      this.recheck(entry);
      return () => {
        stream.closed = true;
        stream.upstream?.unsubscribe();
        this.retag(entry, []);
        this.streams.delete(entry);
        release();
        if (this.streams.size === 0) this.stop();
      };
    });
  }

  /** Re-checks every open stream now (what the periodic backstop does). */
  recheckAll(): void {
    for (const stream of [...this.streams]) this.recheck(stream);
  }

  onModuleDestroy(): void {
    for (const stream of [...this.streams]) stream.end();
    this.stop();
  }

  private onTag(tag: string): void {
    if (tag === '*') return this.recheckAll();
    const streams = this.byTag.get(tag);
    if (streams) for (const stream of [...streams]) this.recheck(stream);
  }

  private recheck(stream: Guarded<unknown>): void {
    if (stream.closed) return;
    if (stream.checking) {
      // The running check may have read the data from before this change.
      stream.again = true;
      return;
    }
    stream.checking = true;
    stream.held ??= [];
    // In a context of its own: the tag may come from another request's commit, and the
    // guard records the actor it resolves in the current context.
    void RequestContext.run({}, () => this.runCheck(stream)).finally(() => {
      stream.checking = false;
    });
  }

  private async runCheck(stream: Guarded<unknown>): Promise<void> {
    try {
      do {
        stream.again = false;
        if (!(await this.access.allows(stream.options.context))) {
          stream.end();
          return;
        }
        const resourceTags = await stream.options.resourceTags();
        if (!stream.closed) this.retag(stream, [...stream.principalTags, ...resourceTags]);
      } while (stream.again && !stream.closed);
      stream.flush();
    } catch (error) {
      this.logger.warn({ err: String(error) }, 'stream re-check failed; ending the stream');
      stream.end();
    }
  }

  private retag(stream: Guarded<unknown>, tags: readonly string[]): void {
    for (const tag of stream.tags) {
      const streams = this.byTag.get(tag);
      streams?.delete(stream);
      if (streams?.size === 0) this.byTag.delete(tag);
    }
    stream.tags = new Set(tags);
    for (const tag of stream.tags) {
      let streams = this.byTag.get(tag);
      if (!streams) this.byTag.set(tag, (streams = new Set()));
      streams.add(stream);
    }
  }

  private start(): void {
    this.unlisten ??= this.invalidation.onInvalidation((tag) => this.onTag(tag));
    this.recheckTimer ??= setInterval(() => this.recheckAll(), this.recheckMs).unref();
    this.renewTimer ??= setInterval(() => {
      this.slots
        .renew([...this.streams].map((stream) => stream.slot))
        .catch((error: unknown) =>
          this.logger.warn({ err: String(error) }, 'could not renew stream slots'),
        );
    }, SLOT_RENEW_MS).unref();
  }

  private stop(): void {
    clearInterval(this.recheckTimer);
    clearInterval(this.renewTimer);
    this.recheckTimer = undefined;
    this.renewTimer = undefined;
    this.unlisten?.();
    this.unlisten = undefined;
  }
}
