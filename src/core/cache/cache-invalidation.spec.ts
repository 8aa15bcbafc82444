import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { CacheInvalidation } from './cache-invalidation';

function invalidationWith(enabled: boolean): {
  invalidation: CacheInvalidation;
  subscribers: unknown[];
} {
  const subscribers: unknown[] = [];
  const config = {
    get: (key: string) => (key === 'ACCESS_CACHE_ENABLED' ? enabled : 'postgres://unused'),
  } as unknown as AppConfig;
  const invalidation = new CacheInvalidation(config, { subscribers } as unknown as DataSource);
  return { invalidation, subscribers };
}

/** A transaction's manager as TypeORM hands it out: a query runner with shared data. */
function transaction(): { manager: EntityManager; runner: QueryRunner } {
  const runner = { isTransactionActive: true, data: {} } as unknown as QueryRunner;
  return { manager: { queryRunner: runner } as unknown as EntityManager, runner };
}

describe('CacheInvalidation', () => {
  it('with ACCESS_CACHE_ENABLED=false never listens, so every read goes to the loader', async () => {
    const { invalidation } = invalidationWith(false);
    const cache = invalidation.create<string>({ maxEntries: 10, ttlMs: 60_000 });
    const load = jest.fn().mockResolvedValue('value');
    await cache.get('k', load, () => ['user:1']);
    await cache.get('k', load, () => ['user:1']);
    expect(invalidation.live).toBe(false);
    expect(load).toHaveBeenCalledTimes(2);
    await invalidation.onModuleDestroy();
  });

  it('registers itself as a TypeORM subscriber (to hear about commits)', () => {
    const { invalidation, subscribers } = invalidationWith(false);
    expect(subscribers).toEqual([invalidation]);
  });

  describe('a tag invalidated inside a transaction', () => {
    /** Spies on what reaches the caches. */
    function spied(): { invalidation: CacheInvalidation; dropped: string[] } {
      const { invalidation } = invalidationWith(false);
      const dropped: string[] = [];
      const cache = invalidation.create<string>({ maxEntries: 10, ttlMs: 60_000 });
      jest.spyOn(cache, 'invalidate').mockImplementation((tag) => void dropped.push(tag));
      return { invalidation, dropped };
    }

    it('waits for the commit, then drops each tag once', () => {
      const { invalidation, dropped } = spied();
      const { manager, runner } = transaction();
      invalidation.invalidate('case:1', manager);
      invalidation.invalidate('case:1', manager);
      invalidation.invalidate('user:2', manager);
      expect(dropped).toEqual([]);
      (runner as { isTransactionActive: boolean }).isTransactionActive = false;
      invalidation.afterTransactionCommit({ queryRunner: runner } as never);
      expect(dropped).toEqual(['case:1', 'user:2']);
      invalidation.afterTransactionCommit({ queryRunner: runner } as never);
      expect(dropped).toEqual(['case:1', 'user:2']);
    });

    it('does not fire when only a savepoint is released', () => {
      const { invalidation, dropped } = spied();
      const { manager, runner } = transaction();
      invalidation.invalidate('case:1', manager);
      invalidation.afterTransactionCommit({ queryRunner: runner } as never);
      expect(dropped).toEqual([]);
    });

    it('is applied on rollback too (dropping an entry is always safe)', () => {
      const { invalidation, dropped } = spied();
      const { manager, runner } = transaction();
      invalidation.invalidate('conversation:3', manager);
      (runner as { isTransactionActive: boolean }).isTransactionActive = false;
      invalidation.afterTransactionRollback({ queryRunner: runner } as never);
      expect(dropped).toEqual(['conversation:3']);
    });

    it('outside a transaction is applied at once', () => {
      const { invalidation, dropped } = spied();
      invalidation.invalidate('user:9');
      invalidation.invalidate('user:8', {} as EntityManager);
      expect(dropped).toEqual(['user:9', 'user:8']);
    });
  });

  describe('listeners (live streams re-check on these)', () => {
    it('hear each tag after the commit, once the caches dropped it', async () => {
      const { invalidation } = invalidationWith(false);
      const cache = invalidation.create<string>({ maxEntries: 10, ttlMs: 60_000 });
      const dropped: string[] = [];
      jest.spyOn(cache, 'invalidate').mockImplementation((tag) => void dropped.push(tag));
      const heard: { tag: string; droppedBefore: boolean }[] = [];
      const stop = invalidation.onInvalidation((tag) =>
        heard.push({ tag, droppedBefore: dropped.includes(tag) }),
      );
      const { manager, runner } = transaction();
      invalidation.invalidate('case:1', manager);
      expect(heard).toEqual([]);
      (runner as { isTransactionActive: boolean }).isTransactionActive = false;
      invalidation.afterTransactionCommit({ queryRunner: runner } as never);
      invalidation.invalidate('user:2');
      expect(heard).toEqual([
        { tag: 'case:1', droppedBefore: true },
        { tag: 'user:2', droppedBefore: true },
      ]);
      stop();
      invalidation.invalidate('user:3');
      expect(heard).toHaveLength(2);
      await invalidation.onModuleDestroy();
    });

    it('with ACCESS_CACHE_ENABLED=false keep the caches bypassed even though a listener opened the feed', async () => {
      const { invalidation } = invalidationWith(false);
      const stop = invalidation.onInvalidation(() => undefined);
      // Whatever the connection does, caching stays off.
      (invalidation as unknown as { listening: boolean }).listening = true;
      expect(invalidation.live).toBe(false);
      stop();
      await invalidation.onModuleDestroy();
    });
  });
});
