/**
 * What a cache needs from the invalidation feed: whether it is listening right now.
 * While it is not, nothing may be served from memory (a change could go unheard).
 */
export interface InvalidationFeed {
  readonly live: boolean;
}

interface Entry<V> {
  value: V;
  tags: readonly string[];
  expiresAt: number;
}

export interface CoherentCacheOptions {
  maxEntries: number;
  /** A backstop only: invalidation, not age, is what keeps entries correct. */
  ttlMs: number;
}

/**
 * An in-process read-through cache of access data (principals, participations) that
 * stays coherent with Postgres: every entry carries tags (`user:<id>`, `case:<id>`, …)
 * and is dropped when a tag is invalidated — locally by the code that made the change,
 * and in every process by the database's NOTIFY (see CacheInvalidation).
 *
 * A value loaded while an invalidation happened is returned but not kept: it may have
 * been read before the change committed. While the feed is down the cache is bypassed.
 */
export class CoherentCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly keysByTag = new Map<string, Set<string>>();
  /** Bumped by every invalidation; a load that saw it change is not stored. */
  private epoch = 0;

  constructor(
    private readonly feed: InvalidationFeed,
    private readonly options: CoherentCacheOptions,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async get(key: string, load: () => Promise<V>, tagsOf: (value: V) => string[]): Promise<V> {
    if (!this.feed.live) return load();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    if (hit) this.remove(key);
    const epoch = this.epoch;
    const value = await load();
    if (epoch === this.epoch && this.feed.live) this.store(key, value, tagsOf(value));
    return value;
  }

  /** Drops every entry carrying `tag`; `*` drops everything. */
  invalidate(tag: string): void {
    this.epoch++;
    if (tag === '*') {
      this.clear();
      return;
    }
    const keys = this.keysByTag.get(tag);
    if (!keys) return;
    for (const key of [...keys]) this.remove(key);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.keysByTag.clear();
  }

  private store(key: string, value: V, tags: readonly string[]): void {
    this.remove(key);
    if (this.entries.size >= this.options.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.remove(oldest.value);
    }
    this.entries.set(key, { value, tags, expiresAt: Date.now() + this.options.ttlMs });
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) this.keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }
}
