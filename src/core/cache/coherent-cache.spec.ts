import { CoherentCache, CoherentCacheOptions, InvalidationFeed } from './coherent-cache';

/** A feed whose liveness the test flips by hand. */
class FakeFeed implements InvalidationFeed {
  live = true;
}

/** A promise the test resolves when it chooses, to hold a load open across other calls. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

interface Row {
  id: string;
  version: number;
}

/**
 * A loader standing in for Postgres: `load(key)` returns the row's current version and
 * counts how often the database was asked, which is what tells a hit from a miss.
 */
function database() {
  const versions = new Map<string, number>();
  const calls: string[] = [];
  return {
    calls,
    set(id: string, version: number): void {
      versions.set(id, version);
    },
    load(id: string): () => Promise<Row> {
      return () => {
        calls.push(id);
        return Promise.resolve({ id, version: versions.get(id) ?? 0 });
      };
    },
    loadsOf(id: string): number {
      return calls.filter((call) => call === id).length;
    },
  };
}

const OPTIONS: CoherentCacheOptions = { maxEntries: 100, ttlMs: 60_000 };

describe('CoherentCache', () => {
  let feed: FakeFeed;
  let db: ReturnType<typeof database>;

  beforeEach(() => {
    feed = new FakeFeed();
    db = database();
  });

  /** Every key is tagged `row:<id>` and `group:<first letter>`. */
  const tagsOf = (row: Row): string[] => [`row:${row.id}`, `group:${row.id[0]}`];
  const get = (cache: CoherentCache<Row>, id: string): Promise<Row> =>
    cache.get(id, db.load(id), tagsOf);

  describe('while the feed is live', () => {
    it('serves a hit from memory without calling load again', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      db.set('a1', 1);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      db.set('a1', 2);
      // Still version 1: the second and third gets never reached the database.
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      expect(db.loadsOf('a1')).toBe(1);
      expect(cache.size).toBe(1);
    });

    it('keeps keys apart: each key is loaded once', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      for (const id of ['a1', 'a2', 'b1', 'a1', 'a2', 'b1']) await get(cache, id);
      expect(db.calls).toEqual(['a1', 'a2', 'b1']);
      expect(cache.size).toBe(3);
    });

    it('caches a null answer too (an unknown user stays unknown until invalidated)', async () => {
      const cache = new CoherentCache<Row | null>(feed, OPTIONS);
      const load = jest.fn(() => Promise.resolve(null));
      await expect(cache.get('ghost', load, () => ['row:ghost'])).resolves.toBeNull();
      await expect(cache.get('ghost', load, () => ['row:ghost'])).resolves.toBeNull();
      expect(load).toHaveBeenCalledTimes(1);
      cache.invalidate('row:ghost');
      await cache.get('ghost', load, () => ['row:ghost']);
      expect(load).toHaveBeenCalledTimes(2);
    });

    it('keeps nothing when load fails: the next get asks again', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      const failing = jest.fn(() => Promise.reject(new Error('connection refused')));
      await expect(cache.get('a1', failing, tagsOf)).rejects.toThrow('connection refused');
      expect(cache.size).toBe(0);
      db.set('a1', 1);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      expect(db.loadsOf('a1')).toBe(1);
    });
  });

  describe('invalidate(tag)', () => {
    it('drops only the entries carrying that tag', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      for (const id of ['a1', 'a2', 'b1']) await get(cache, id);
      expect(db.calls).toEqual(['a1', 'a2', 'b1']);

      cache.invalidate('row:a1');
      expect(cache.size).toBe(2);
      for (const id of ['a1', 'a2', 'b1']) await get(cache, id);
      // Only a1 went back to the database.
      expect(db.calls).toEqual(['a1', 'a2', 'b1', 'a1']);

      cache.invalidate('group:a');
      expect(cache.size).toBe(1);
      for (const id of ['a1', 'a2', 'b1']) await get(cache, id);
      expect(db.calls).toEqual(['a1', 'a2', 'b1', 'a1', 'a1', 'a2']);
    });

    it('serves the new value after the invalidation', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      db.set('a1', 1);
      await get(cache, 'a1');
      db.set('a1', 2);
      cache.invalidate('row:a1');
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      expect(db.loadsOf('a1')).toBe(2);
    });

    it('ignores a tag nothing carries', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      await get(cache, 'a1');
      cache.invalidate('row:zz');
      cache.invalidate('user:a1');
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(1);
    });

    it('forgets the tags of an entry dropped through another tag', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      await get(cache, 'a1');
      cache.invalidate('row:a1');
      // Re-stored with tags that no longer include group:a.
      await cache.get('a1', db.load('a1'), () => ['row:a1']);
      cache.invalidate('group:a');
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(2);
    });

    it('`*` drops everything', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      for (const id of ['a1', 'a2', 'b1']) await get(cache, id);
      expect(cache.size).toBe(3);
      cache.invalidate('*');
      expect(cache.size).toBe(0);
      for (const id of ['a1', 'a2', 'b1']) await get(cache, id);
      expect(db.calls).toEqual(['a1', 'a2', 'b1', 'a1', 'a2', 'b1']);
    });

    it('clear() drops everything', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      for (const id of ['a1', 'b1']) await get(cache, id);
      cache.clear();
      expect(cache.size).toBe(0);
      await get(cache, 'b1');
      expect(db.loadsOf('b1')).toBe(2);
    });
  });

  describe('a load that straddles an invalidation', () => {
    it('is returned to its caller but not stored: the next get loads again', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      const slow = deferred<Row>();
      const pending = cache.get('a1', () => slow.promise, tagsOf);
      // The change commits (and is announced) while the read is still in flight: the
      // value the read returns may predate the change.
      cache.invalidate('row:a1');
      slow.resolve({ id: 'a1', version: 1 });
      await expect(pending).resolves.toEqual({ id: 'a1', version: 1 });
      expect(cache.size).toBe(0);

      db.set('a1', 2);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      expect(db.loadsOf('a1')).toBe(1);
      // That load did not straddle anything: it is kept.
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      expect(db.loadsOf('a1')).toBe(1);
    });

    it('is not stored after `*` or clear() either', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      for (const drop of [() => cache.invalidate('*'), () => cache.clear()]) {
        const slow = deferred<Row>();
        const pending = cache.get('a1', () => slow.promise, tagsOf);
        drop();
        slow.resolve({ id: 'a1', version: 1 });
        await pending;
        expect(cache.size).toBe(0);
      }
    });

    it('is not stored when the feed went down while it ran', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      const slow = deferred<Row>();
      const pending = cache.get('a1', () => slow.promise, tagsOf);
      feed.live = false;
      slow.resolve({ id: 'a1', version: 1 });
      await expect(pending).resolves.toEqual({ id: 'a1', version: 1 });
      feed.live = true;
      expect(cache.size).toBe(0);
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(1);
    });
  });

  describe('while the feed is not live', () => {
    it('loads on every get and keeps nothing', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      feed.live = false;
      db.set('a1', 1);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      db.set('a1', 2);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(3);
      expect(cache.size).toBe(0);
    });

    it('does not serve an entry stored before the feed went down', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      db.set('a1', 1);
      await get(cache, 'a1');
      expect(cache.size).toBe(1);
      // A change nobody heard of: the feed is down.
      feed.live = false;
      db.set('a1', 2);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      expect(db.loadsOf('a1')).toBe(2);
    });

    it('caches again once the feed is live', async () => {
      const cache = new CoherentCache<Row>(feed, OPTIONS);
      feed.live = false;
      await get(cache, 'a1');
      feed.live = true;
      await get(cache, 'a1');
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(2);
      expect(cache.size).toBe(1);
    });
  });

  describe('maxEntries', () => {
    it('evicts the oldest entry once full', async () => {
      const cache = new CoherentCache<Row>(feed, { maxEntries: 3, ttlMs: 60_000 });
      for (const id of ['a1', 'a2', 'a3']) await get(cache, id);
      expect(cache.size).toBe(3);
      await get(cache, 'a4');
      expect(cache.size).toBe(3);
      // a2..a4 are still hits; a1 was evicted and loads again (evicting a2 in turn).
      for (const id of ['a2', 'a3', 'a4']) await get(cache, id);
      expect(db.calls).toEqual(['a1', 'a2', 'a3', 'a4']);
      await get(cache, 'a1');
      expect(db.calls).toEqual(['a1', 'a2', 'a3', 'a4', 'a1']);
      expect(cache.size).toBe(3);
    });
  });

  describe('ttlMs', () => {
    beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
    afterEach(() => jest.useRealTimers());

    it('reloads an entry once it has expired, and keeps the fresh one', async () => {
      const cache = new CoherentCache<Row>(feed, { maxEntries: 100, ttlMs: 1_000 });
      db.set('a1', 1);
      await get(cache, 'a1');
      jest.advanceTimersByTime(999);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 1 });
      expect(db.loadsOf('a1')).toBe(1);

      db.set('a1', 2);
      jest.advanceTimersByTime(1);
      await expect(get(cache, 'a1')).resolves.toEqual({ id: 'a1', version: 2 });
      expect(db.loadsOf('a1')).toBe(2);
      expect(cache.size).toBe(1);
      // The reloaded entry has a fresh lifetime.
      jest.advanceTimersByTime(500);
      await get(cache, 'a1');
      expect(db.loadsOf('a1')).toBe(2);
    });
  });
});
