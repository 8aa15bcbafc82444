import Redis from 'ioredis';
import { TestClock } from '../../src/core/clock/clock';
import {
  RATE_SYNC_INTERVAL_MS,
  SharedRateCounter,
} from '../../src/core/security/shared-rate-counter';

/**
 * The rate limit's store (TARGETS S4) against the run's real Redis: each process decides
 * from the shared count at its last sync plus its own hits since, and adds its hits to the
 * shared count every RATE_SYNC_INTERVAL_MS. Two counters on one Redis prefix stand for two
 * replicas.
 */
describe('Rate limit counts shared through Redis (SharedRateCounter)', () => {
  const LIMIT = 5;
  const TTL_MS = 60_000;
  const prefix = `${process.env.REDIS_PREFIX ?? 'vbt'}-rate-counter-${Date.now().toString(36)}:`;
  const clients: Redis[] = [];
  const counters: SharedRateCounter[] = [];
  let clock: TestClock;

  const client = (unreachable = false): Redis => {
    const redis = unreachable
      ? new Redis('redis://127.0.0.1:1', {
          keyPrefix: prefix,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
        })
      : new Redis(process.env.REDIS_URL!, { keyPrefix: prefix });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };
  const replica = (redis = client()): SharedRateCounter => {
    const counter = new SharedRateCounter(redis, clock);
    counters.push(counter);
    return counter;
  };
  const hit = (counter: SharedRateCounter, tracker: string) =>
    counter.increment(tracker, TTL_MS, LIMIT, TTL_MS, 'default');
  /** The Redis key of the tracker's window the clock is in now. */
  const windowKey = (tracker: string): string => {
    const now = clock.nowMs();
    return `rate:default:${tracker}:${now - (now % TTL_MS)}`;
  };
  const sharedCount = async (tracker: string): Promise<number> =>
    Number((await clients[0]!.get(windowKey(tracker))) ?? 0);
  let sequence = 0;
  const newTracker = () => `user:${process.pid}-${(sequence += 1)}`;

  beforeEach(() => {
    clock = new TestClock();
    // Far from a window boundary, so no test straddles two windows by accident.
    const into = clock.nowMs() % TTL_MS;
    if (into > TTL_MS - 10_000) clock.advance(TTL_MS - into + 1000);
  });

  afterAll(async () => {
    await Promise.all(counters.map((counter) => counter.onModuleDestroy()));
    const keys = await clients[0]!.keys(`${prefix}*`);
    if (keys.length > 0) await clients[0]!.del(...keys.map((key) => key.slice(prefix.length)));
    for (const redis of clients) redis.disconnect();
  });

  describe('one process', () => {
    it('counts every hit and refuses the one past the limit, with the time until it may retry', async () => {
      const counter = replica();
      const tracker = newTracker();
      const records = [];
      for (let i = 0; i < LIMIT + 2; i += 1) records.push(await hit(counter, tracker));
      expect(records.map((r) => r.totalHits)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(records.map((r) => r.isBlocked)).toEqual([
        false,
        false,
        false,
        false,
        false,
        true,
        true,
      ]);
      expect(records[LIMIT]!.timeToBlockExpire).toBeGreaterThan(0);
      expect(records[0]!.timeToExpire).toBeGreaterThan(0);
      expect(records[0]!.timeToExpire).toBeLessThanOrEqual(TTL_MS / 1000);
    });

    it('keeps trackers apart', async () => {
      const counter = replica();
      const [first, second] = [newTracker(), newTracker()];
      for (let i = 0; i < LIMIT + 1; i += 1) await hit(counter, first);
      expect(await hit(counter, second)).toMatchObject({ totalHits: 1, isBlocked: false });
    });

    it('adds its hits to the shared count in Redis by itself, within a few sync intervals', async () => {
      const counter = replica();
      const tracker = newTracker();
      for (let i = 0; i < 4; i += 1) await hit(counter, tracker);
      const deadline = Date.now() + 20 * RATE_SYNC_INTERVAL_MS;
      while ((await sharedCount(tracker)) < 4 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, RATE_SYNC_INTERVAL_MS));
      }
      expect(await sharedCount(tracker)).toBe(4);
    });

    it('still sends the hits of a window that ended before its sync', async () => {
      const counter = replica();
      const tracker = newTracker();
      for (let i = 0; i < 3; i += 1) await hit(counter, tracker);
      const ended = windowKey(tracker);
      clock.advance(TTL_MS);
      expect(await hit(counter, tracker)).toMatchObject({ totalHits: 1 });
      await counter.sync();
      expect(Number(await clients[0]!.get(ended))).toBe(3);
      expect(await sharedCount(tracker)).toBe(1);
    });

    it('starts a new window from zero once the block is over', async () => {
      const counter = replica();
      const tracker = newTracker();
      for (let i = 0; i < LIMIT + 1; i += 1) await hit(counter, tracker);
      await counter.sync();
      clock.advance(TTL_MS + 1);
      expect(await hit(counter, tracker)).toMatchObject({ totalHits: 1, isBlocked: false });
    });
  });

  describe('two replicas on one Redis', () => {
    it('each learns the other’s hits at its next sync, so together they keep the limit', async () => {
      const [a, b] = [replica(), replica()];
      const tracker = newTracker();
      for (let i = 0; i < 3; i += 1) await hit(a, tracker);
      await a.sync();
      // B has not synced yet: it knows only its own hit.
      expect(await hit(b, tracker)).toMatchObject({ totalHits: 1, isBlocked: false });
      await b.sync();
      expect(await hit(b, tracker)).toMatchObject({ totalHits: 5, isBlocked: false });
      expect(await hit(b, tracker)).toMatchObject({ totalHits: 6, isBlocked: true });
      await b.sync();
      // A's next hit is decided on what it knew (3 + this one); its sync then brings B's.
      expect(await hit(a, tracker)).toMatchObject({ totalHits: 4, isBlocked: false });
      await a.sync();
      expect(await hit(a, tracker)).toMatchObject({ totalHits: 8, isBlocked: true });
      await a.sync();
      expect(await sharedCount(tracker)).toBe(8);
    });
  });

  describe('Redis unreachable', () => {
    it('keeps limiting in the process and never fails a request', async () => {
      const counter = replica(client(true));
      const tracker = newTracker();
      const records = [];
      for (let i = 0; i < LIMIT + 1; i += 1) {
        records.push(await hit(counter, tracker));
        await counter.sync();
      }
      expect(records.map((r) => r.totalHits)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(records[LIMIT]!.isBlocked).toBe(true);
    });
  });
});
