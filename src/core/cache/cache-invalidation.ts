import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import type {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { AppConfig } from '../config/app-config';
import { CoherentCache, CoherentCacheOptions, InvalidationFeed } from './coherent-cache';

/** The channel the database triggers notify (migration AccessCacheInvalidation). */
export const CACHE_CHANNEL = 'verbatim_cache';

const RECONNECT_MS = { first: 250, max: 5_000 };
/** Tags invalidated inside a transaction wait here (on its query runner) for its end. */
const PENDING_TAGS = Symbol('pendingCacheInvalidations');
type RunnerData = { [PENDING_TAGS]?: Set<string> };

/**
 * Keeps this process's CoherentCaches in step with Postgres. One dedicated connection
 * LISTENs to `verbatim_cache`; the triggers on users, roles, sessions, cases,
 * conversations and their participants notify it on commit, so a change made by any
 * replica, worker or the CLI reaches every cache. The code that makes a change also
 * calls `invalidate()` itself — after the commit when it passes its transaction's
 * manager — so this process never serves its own stale entry, even for a request that
 * read the old row while the change was being committed.
 *
 * The connection opens with the first cache. Until it is listening, and whenever it is
 * lost, the caches are empty and bypassed: correctness never depends on a quiet feed.
 */
@Injectable()
export class CacheInvalidation
  implements InvalidationFeed, OnModuleDestroy, EntitySubscriberInterface
{
  private readonly logger = new Logger(CacheInvalidation.name);
  private readonly caches = new Set<CoherentCache<unknown>>();
  /** Code that must react to a change rather than forget it (guarded streams, src/core/sse). */
  private readonly listeners = new Set<(tag: string) => void>();
  private readonly cachesEnabled: boolean;
  private client: Client | undefined;
  private listening = false;
  private started = false;
  private stopped = false;
  private reconnectMs = RECONNECT_MS.first;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    dataSource.subscribers.push(this);
    this.cachesEnabled = config.get('ACCESS_CACHE_ENABLED');
  }

  /** Whether caches may serve from memory: the feed listens and caching is on. */
  get live(): boolean {
    return this.listening && this.cachesEnabled;
  }

  create<V>(options: CoherentCacheOptions): CoherentCache<V> {
    const cache = new CoherentCache<V>(this, options);
    this.caches.add(cache);
    if (this.cachesEnabled) this.start();
    return cache;
  }

  /**
   * Calls `listener` with every tag this process invalidates, after the caches dropped
   * their entries (so a re-check reads fresh data), and with `*` whenever the feed
   * (re)connects: what changed while nobody listened is unknown. Opens the feed even
   * with ACCESS_CACHE_ENABLED=false (the caches stay bypassed). Returns the unsubscribe.
   */
  onInvalidation(listener: (tag: string) => void): () => void {
    this.listeners.add(listener);
    this.start();
    return () => this.listeners.delete(listener);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
  }

  /**
   * Drops entries tagged `tag` (or all, for `*`) in this process's caches: now, or when
   * the transaction `manager` belongs to ends (a reader could otherwise cache the row as
   * it was before the commit).
   */
  invalidate(tag: string, manager?: EntityManager): void {
    const runner = manager?.queryRunner;
    if (runner?.isTransactionActive) {
      const data = runner.data as RunnerData;
      (data[PENDING_TAGS] ??= new Set()).add(tag);
      return;
    }
    for (const cache of this.caches) cache.invalidate(tag);
    this.tell(tag);
  }

  private tell(tag: string): void {
    for (const listener of this.listeners) {
      try {
        listener(tag);
      } catch (error) {
        this.logger.error({ err: error }, 'invalidation listener failed');
      }
    }
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    this.flushPending(event.queryRunner);
  }

  /** Nothing changed, but dropping entries is always safe. */
  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.flushPending(event.queryRunner);
  }

  private flushPending(runner: QueryRunner): void {
    if (runner.isTransactionActive) return; // a savepoint, not the end
    const data = runner.data as RunnerData;
    const tags = data[PENDING_TAGS];
    if (!tags) return;
    delete data[PENDING_TAGS];
    for (const tag of tags) this.invalidate(tag);
  }

  /** Resolves once the feed is listening (tests and benchmarks wait for a warm path). */
  async whenLive(timeoutMs = 5_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.listening && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.listening;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.lost();
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.config.get('DATABASE_URL'),
      application_name: 'verbatim-cache',
      connectionTimeoutMillis: 2_000,
      // A connection that dies silently would look live while notifications are lost.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.client = client;
    client.on('notification', (message) => {
      if (message.channel === CACHE_CHANNEL && message.payload) this.invalidate(message.payload);
    });
    client.on('error', (error) => this.onDisconnect(client, error));
    client.on('end', () => this.onDisconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CACHE_CHANNEL}`);
      if (this.stopped || this.client !== client) return;
      // Whatever changed while nobody listened is unknown: start empty.
      for (const cache of this.caches) cache.clear();
      this.listening = true;
      this.reconnectMs = RECONNECT_MS.first;
      this.tell('*');
    } catch (error) {
      this.onDisconnect(client, error);
    }
  }

  private onDisconnect(client: Client, error?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.lost();
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.logger.warn(
      `Cache invalidation feed lost (${error instanceof Error ? error.message : 'connection ended'}); ` +
        `caches bypassed until it is back`,
    );
    this.reconnectTimer = setTimeout(() => void this.connect(), this.reconnectMs);
    this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MS.max);
  }

  private lost(): void {
    this.listening = false;
    for (const cache of this.caches) cache.clear();
  }
}
