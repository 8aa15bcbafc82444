import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { Clock } from '../clock/clock';
import { InjectRedis } from '../redis/redis.module';

/** What the guard needs of one hit (the package does not export this type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How long this process counts alone before it adds its hits to the shared count. */
export const RATE_SYNC_INTERVAL_MS = 20;

/** How often ended windows are dropped from memory. */
const SWEEP_EVERY_MS = 1_000;

/** One tracker's count in one window, as this process knows it. */
interface WindowCount {
  key: string;
  /** Window start (ms since the epoch); windows are aligned to multiples of their length. */
  start: number;
  length: number;
  /** The shared count (every replica's hits) at this process's last sync. */
  shared: number;
  /** Hits sent to Redis whose new shared count has not come back yet. */
  sending: number;
  /** Hits counted here and not sent yet. */
  unsent: number;
  /** Refused until then (ms since the epoch); 0 when not blocked. */
  blockedUntil: number;
}

/**
 * The rate limit's counts (TARGETS S4), shared by every replica through Redis without
 * a Redis round trip per request. The store it replaces sent its whole Lua script with
 * EVAL on every request: a socket write and a script run that cost about a tenth of a
 * cheap request's CPU (BENCHMARKS.md, "P11").
 *
 * Counts are kept per tracker in fixed windows aligned to the limit's length. Each
 * process decides from the shared count at its last sync plus the hits it has counted
 * since, and every RATE_SYNC_INTERVAL_MS adds those hits to the shared count in Redis
 * (one INCRBY per active tracker) and reads the new total back. So one process limits
 * exactly; several replicas together may let through at most the requests each accepts
 * in one sync interval beyond the limit, which is acceptable for a rate limit (it bounds
 * load, it is not a quota). When Redis cannot be reached the hits stay counted here and
 * are sent with the next sync, so the limit still holds per process.
 */
@Injectable()
export class SharedRateCounter implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger(SharedRateCounter.name);
  private readonly windows = new Map<string, WindowCount>();
  /** Counts with hits not sent yet: a sync visits these, not every tracker known. */
  private readonly dirty = new Set<WindowCount>();
  /** When ended windows were last dropped (at most once per SWEEP_EVERY_MS). */
  private sweptAt = 0;
  /** Whether the last sync failed: logged when it starts and when it ends, not per try. */
  private unsynced = false;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly clock: Clock,
  ) {}

  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = this.clock.nowMs();
    const count = this.current(`${throttlerName}:${key}`, ttl, now);
    count.unsent += 1;
    this.dirty.add(count);
    this.scheduleSync();
    const totalHits = count.shared + count.sending + count.unsent;
    if (totalHits > limit && count.blockedUntil <= now) count.blockedUntil = now + blockDuration;
    const isBlocked = count.blockedUntil > now;
    return Promise.resolve({
      totalHits,
      timeToExpire: Math.ceil((count.start + count.length - now) / 1000),
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.ceil((count.blockedUntil - now) / 1000) : 0,
    });
  }

  /** Sends every hit counted so far; resolves once Redis has them (or refused them). */
  async sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.sendUnsent());
    await this.syncing;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sync();
  }

  /** This tracker's count in the window `now` falls in; a new window starts from zero. */
  private current(id: string, length: number, now: number): WindowCount {
    const start = now - (now % length);
    const known = this.windows.get(id);
    if (known && known.start === start && known.length === length) return known;
    const count: WindowCount = {
      key: `rate:${id}:${start}`,
      start,
      length,
      shared: 0,
      sending: 0,
      unsent: 0,
      // A block outlives the window it began in when blockDuration is longer.
      blockedUntil: known?.blockedUntil ?? 0,
    };
    this.windows.set(id, count);
    return count;
  }

  private scheduleSync(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, RATE_SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  private async sendUnsent(): Promise<void> {
    const counts = [...this.dirty];
    this.dirty.clear();
    this.dropEnded();
    await Promise.all(counts.map((count) => this.send(count)));
  }

  /** Forgets trackers whose window and block are over and that have nothing in flight. */
  private dropEnded(): void {
    const now = this.clock.nowMs();
    if (now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    for (const [id, count] of this.windows) {
      const over = count.start + count.length <= now && count.blockedUntil <= now;
      if (over && count.unsent === 0 && count.sending === 0) this.windows.delete(id);
    }
  }

  private async send(count: WindowCount): Promise<void> {
    const hits = count.unsent;
    count.unsent = 0;
    count.sending += hits;
    try {
      // One write for both (one key, so one slot on a cluster). Kept a little past the
      // window so a late sync still finds it; never read after.
      const replies = await this.redis
        .pipeline()
        .incrby(count.key, hits)
        .pexpire(count.key, count.length + 10_000)
        .exec();
      const [error, shared] = replies?.[0] ?? [new Error('no reply to INCRBY')];
      if (error) throw error;
      // Syncs run one at a time, so the total includes every hit this process sent.
      count.shared = Math.max(count.shared, Number(shared));
      if (this.unsynced) this.logger.log('rate-limit counts are shared through Redis again');
      this.unsynced = false;
    } catch (error) {
      // Redis unreachable: counted again with the next sync (the limit holds per process).
      if (!this.unsynced)
        this.logger.warn(
          { err: error },
          'rate-limit counts cannot reach Redis; limiting per process until they can',
        );
      this.unsynced = true;
      count.unsent += hits;
      this.dirty.add(count);
      this.scheduleSync();
    } finally {
      count.sending -= hits;
    }
  }
}
