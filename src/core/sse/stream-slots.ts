import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Clock } from '../clock/clock';
import { AppConfig } from '../config/app-config';
import { ProblemException } from '../http/problem.exception';
import { InjectRedis } from '../redis/redis.module';

/** A slot lives this long unless its process renews it: a crashed process frees its slots. */
export const SLOT_LEASE_MS = 60_000;
/** How often a process renews the slots of its open streams. */
export const SLOT_RENEW_MS = 20_000;

/**
 * Takes a slot when there is room: drops expired leases, counts the live ones, and adds
 * this one, atomically (so concurrent opens cannot all see room for one more).
 * KEYS[1] the user's slot set; ARGV now, lease expiry, cap, slot id, key TTL (ms).
 */
const ACQUIRE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

export interface StreamSlot {
  userId: string;
  id: string;
}

export class TooManyStreamsProblem extends ProblemException {
  constructor(max: number) {
    super({
      status: 429,
      code: 'too-many-streams',
      title: 'Too Many Requests',
      detail: `You already have ${max} live streams open; close one before opening another.`,
      // Slots free as soon as a stream closes; a few seconds covers a client's reconnect.
      headers: { 'retry-after': '5' },
    });
  }
}

/**
 * The per-user cap on open streams (SSE_MAX_PER_USER), across every process: each
 * stream holds a leased slot in a Redis sorted set per user (score = lease expiry).
 */
@Injectable()
export class StreamSlots {
  private readonly max: number;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.max = config.get('SSE_MAX_PER_USER');
    this.redis.defineCommand('acquireStreamSlot', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
  }

  private key(userId: string): string {
    return `sse:slots:${userId}`;
  }

  /** A slot for one more stream of `userId`, or TooManyStreamsProblem (429). */
  async acquire(userId: string): Promise<StreamSlot> {
    const id = randomUUID();
    const now = this.clock.nowMs();
    const run = (
      this.redis as unknown as Record<
        'acquireStreamSlot',
        (...a: (string | number)[]) => Promise<number>
      >
    ).acquireStreamSlot;
    const taken = await run.call(
      this.redis,
      this.key(userId),
      now,
      now + SLOT_LEASE_MS,
      this.max,
      id,
      SLOT_LEASE_MS,
    );
    if (!taken) throw new TooManyStreamsProblem(this.max);
    return { userId, id };
  }

  /**
   * TooManyStreamsProblem (429) when the user already holds the maximum of live slots. A
   * read-only check for a guard, which runs before any response header: the atomic
   * acquire() still enforces the cap, this only lets a refusal be an ordinary 429.
   */
  async assertRoom(userId: string): Promise<void> {
    const live = await this.redis.zcount(this.key(userId), `(${this.clock.nowMs()}`, '+inf');
    if (live >= this.max) throw new TooManyStreamsProblem(this.max);
  }

  async release(slot: StreamSlot): Promise<void> {
    await this.redis.zrem(this.key(slot.userId), slot.id);
  }

  /** Extends the leases of the slots this process still holds. */
  async renew(slots: StreamSlot[]): Promise<void> {
    if (slots.length === 0) return;
    const expiry = this.clock.nowMs() + SLOT_LEASE_MS;
    // One pipeline per user: a user's set is one key (one cluster slot); users' are not.
    const byUser = new Map<string, string[]>();
    for (const slot of slots)
      byUser.set(slot.userId, [...(byUser.get(slot.userId) ?? []), slot.id]);
    await Promise.all(
      [...byUser].map(([userId, ids]) => {
        const pipeline = this.redis.pipeline();
        for (const id of ids) pipeline.zadd(this.key(userId), 'XX', expiry, id);
        return pipeline.pexpire(this.key(userId), SLOT_LEASE_MS).exec();
      }),
    );
  }
}
