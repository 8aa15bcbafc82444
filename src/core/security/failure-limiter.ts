import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Clock } from '../clock/clock';
import { InjectRedis } from '../redis/redis.module';

/** A counter of failures (per account, per IP, ...) that locks once it reaches its limit. */
export interface FailureScope {
  /** e.g. `login:account:<id>`; namespaced under `{failures}:` in Redis. */
  key: string;
  maxFailures: number;
  /**
   * Failures are counted within this window and the lock lasts as long. Both are Redis
   * TTLs (PX), so they follow Redis's time, not the application's Clock.
   */
  windowMs: number;
}

/*
 * Why attempts are admitted the way they are (issue 12, "correct logins refused under
 * concurrency"):
 *
 * A credential check must be admitted before its outcome is known, so to keep a burst of
 * concurrent guesses from all passing the lock check at once, attempts in flight have to be
 * held against the limit: with `f` failures counted, at most `max - f` checks may run at the
 * same time, because every one of them could turn out wrong. The earlier design got that
 * right but refused the attempt beyond `max - f` with 429 and audited it as a lockout, so
 * six browser tabs or a fleet of clients sharing a service account were refused although
 * nobody had failed at all.
 *
 * Now failures and attempts in flight are kept apart: `{failures}:count:*` counts settled
 * failures only (and only failures lock), `{failures}:inflight:*` holds the reservations of
 * attempts being checked. An attempt that finds no free slot is not refused: it waits (a
 * few ms at a time) for an earlier attempt to settle. Correct logins give their slot back at
 * once, so 20 concurrent correct logins pass in waves of `max`; wrong guesses fill the
 * count, the scope locks, and every waiter then gets 429 with the lock's Retry-After, so
 * concurrent guesses still never get more than `max` checks per window. Only an attempt
 * that waited longer than `waitMs` is refused, as "busy" (not a failure, not audited as one).
 *
 * Reservations are members of a sorted set scored by a lease deadline, so an attempt whose
 * process died gives its slot back after `leaseMs` instead of holding it forever.
 */

// KEYS: count1, lock1, inflight1, count2, ...; ARGV: token, leaseMs, max1, max2, ...
// Returns {0, 0} when reserved, {1, ms} while a scope is locked, {2, 0} while it is full.
const RESERVE_ATTEMPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS, 3 do
  local ttl = redis.call('PTTL', KEYS[i + 1])
  if ttl > wait then wait = ttl end
end
if wait > 0 then return {1, wait} end
for i = 1, #KEYS, 3 do
  local max = tonumber(ARGV[2 + (i + 2) / 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i + 2], '-inf', now)
  local failures = tonumber(redis.call('GET', KEYS[i]) or '0')
  if failures + redis.call('ZCARD', KEYS[i + 2]) >= max then return {2, 0} end
end
for i = 1, #KEYS, 3 do
  redis.call('ZADD', KEYS[i + 2], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[2])
end
return {0, 0}`;

// The reserved attempt failed: give back its slot, count the failure, lock at the limit.
// KEYS: count, lock, inflight; ARGV: token, max, windowMs. Returns 1 when it just locked.
const SETTLE_FAILURE = `
redis.call('ZREM', KEYS[3], ARGV[1])
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/** How long a reservation holds its slot if its process never settles it. */
const LEASE_MS = 30_000;
/** How long an attempt waits for a free slot before it is refused as busy. */
const DEFAULT_WAIT_MS = 10_000;

export type AttemptRefusal = { reason: 'locked' | 'busy'; retryAfterMs: number };

/** One admitted credential check: settle it exactly once. */
export class ReservedAttempt {
  private settled = false;

  constructor(
    private readonly limiter: FailureLimiter,
    private readonly scopes: FailureScope[],
    private readonly token: string,
  ) {}

  /** The credential was wrong: counts a failure; returns the keys of scopes that just locked. */
  failed(): Promise<string[]> {
    if (this.settled) return Promise.resolve([]);
    this.settled = true;
    return this.limiter.settleFailure(this.scopes, this.token);
  }

  /** The credential was right, or the check did not happen (an error): not a failure. */
  release(): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    return this.limiter.release(this.scopes, this.token);
  }
}

/**
 * One attempt's script touches the keys of all its scopes (account and address): they
 * share the `{failures}` hash tag, so on a Redis Cluster they are in one slot.
 */
function failureKey(kind: 'count' | 'lock' | 'inflight', scope: string): string {
  return `{failures}:${kind}:${scope}`;
}

/**
 * Brute-force protection backed by Redis, so limits hold across API replicas.
 * Only failures are counted and only failures lock; see the comment above for how
 * concurrent attempts are admitted without letting concurrent guesses exceed the limit.
 */
@Injectable()
export class FailureLimiter {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly clock: Clock,
  ) {}

  /**
   * Admits one credential check in every scope, waiting up to `waitMs` for a free slot.
   * Returns the reservation to settle once the credential was checked, or why not.
   */
  async attempt(
    scopes: FailureScope[],
    waitMs = DEFAULT_WAIT_MS,
  ): Promise<ReservedAttempt | AttemptRefusal> {
    const token = randomUUID();
    const keys = scopes.flatMap((s) => [
      failureKey('count', s.key),
      failureKey('lock', s.key),
      failureKey('inflight', s.key),
    ]);
    const args = [token, LEASE_MS, ...scopes.map((s) => s.maxFailures)];
    const deadline = this.clock.nowMs() + waitMs;
    let pause = 5;
    for (;;) {
      const [state, lockedMs] = (await this.redis.eval(
        RESERVE_ATTEMPT,
        keys.length,
        ...keys,
        ...args,
      )) as [number, number];
      if (state === 0) return new ReservedAttempt(this, scopes, token);
      if (state === 1) return { reason: 'locked', retryAfterMs: lockedMs };
      if (this.clock.nowMs() + pause > deadline) return { reason: 'busy', retryAfterMs: 1000 };
      // Jitter so waiters do not poll in lockstep; a credential check takes tens of ms.
      await sleep(pause + Math.random() * pause);
      pause = Math.min(pause * 2, 100);
    }
  }

  /** @internal through ReservedAttempt.failed */
  async settleFailure(scopes: FailureScope[], token: string): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) =>
      pipeline.eval(
        SETTLE_FAILURE,
        3,
        failureKey('count', s.key),
        failureKey('lock', s.key),
        failureKey('inflight', s.key),
        token,
        s.maxFailures,
        Math.ceil(s.windowMs),
      ),
    );
    const results = (await pipeline.exec()) ?? [];
    return scopes.filter((_, i) => results[i]?.[1] === 1).map((s) => s.key);
  }

  /** @internal through ReservedAttempt.release */
  async release(scopes: FailureScope[], token: string): Promise<void> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) => pipeline.zrem(failureKey('inflight', s.key), token));
    await pipeline.exec();
  }

  /** How much longer the scope `key` stays locked, in ms; 0 when it is not locked. */
  async lockedForMs(key: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(failureKey('lock', key)));
  }

  /** Forgets the failures counted in a scope (a success proves the owner is back). */
  async reset(scope: FailureScope): Promise<void> {
    await this.redis.del(failureKey('count', scope.key));
  }
}

export function isRefusal(outcome: ReservedAttempt | AttemptRefusal): outcome is AttemptRefusal {
  return !(outcome instanceof ReservedAttempt);
}
