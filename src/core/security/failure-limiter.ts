import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { InjectRedis } from '../redis/redis.module';

/** A counter of failures (per account, per IP, ...) that locks once it reaches its limit. */
export interface FailureScope {
  /** e.g. `login:acct:<id>`; namespaced under `failures:` in Redis. */
  key: string;
  maxFailures: number;
  /** Failures are counted within this window and the lock lasts as long. */
  windowMs: number;
}

// Count a failure; at the limit set the lock and start counting afresh.
const RECORD_FAILURE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

// Reserve one attempt in every scope, atomically: refuse (returning the ms to wait) while
// any scope is locked or already has as many attempts counted as it allows; otherwise count
// the attempt everywhere and return 0. Counting before the password is checked is what
// keeps a burst of concurrent guesses from all passing the lock check at once.
// KEYS: count1, lock1, count2, lock2, ...; ARGV: max1, window1, max2, window2, ...
const RESERVE_ATTEMPT = `
local wait = 0
for i = 1, #KEYS, 2 do
  local ttl = redis.call('PTTL', KEYS[i + 1])
  if ttl > wait then wait = ttl end
end
if wait > 0 then return wait end
local over = false
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i + 1]) end
  if n > tonumber(ARGV[i]) then over = true end
end
if over then
  for i = 1, #KEYS, 2 do redis.call('DECR', KEYS[i]) end
  return 1000
end
return 0`;

// A reserved attempt failed: lock the scope once its count has reached the limit.
const SETTLE_FAILURE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

// A reserved attempt succeeded: it is not a failure, so take it back out of the count.
const CANCEL_ATTEMPT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

/**
 * Brute-force protection backed by Redis, so limits hold across API replicas.
 * Only failures are counted: successful attempts are never what is limited.
 */
@Injectable()
export class FailureLimiter {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  /** Milliseconds until every given scope is unlocked; 0 when none is locked. */
  async lockedForMs(scopes: FailureScope[]): Promise<number> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) => pipeline.pttl(`failures:lock:${s.key}`));
    const results = (await pipeline.exec()) ?? [];
    return Math.max(0, ...results.map(([, ttl]) => (typeof ttl === 'number' ? ttl : 0)));
  }

  /** Counts one failure in each scope; returns the keys of scopes that just locked. */
  async recordFailure(scopes: FailureScope[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) =>
      pipeline.eval(
        RECORD_FAILURE,
        2,
        `failures:count:${s.key}`,
        `failures:lock:${s.key}`,
        s.maxFailures,
        Math.ceil(s.windowMs),
      ),
    );
    const results = (await pipeline.exec()) ?? [];
    return scopes.filter((_, i) => results[i]?.[1] === 1).map((s) => s.key);
  }

  /**
   * Race-free guard for one attempt: `attempt()` before checking the credential, then
   * `failed()` or `succeeded()`. While the attempts in flight plus the failures already
   * counted reach a scope's limit, further attempts are refused, so concurrent guesses
   * cannot exceed `maxFailures` per window. Returns the ms to wait, 0 when allowed.
   */
  async attempt(scopes: FailureScope[]): Promise<number> {
    const keys = scopes.flatMap((s) => [`failures:count:${s.key}`, `failures:lock:${s.key}`]);
    const args = scopes.flatMap((s) => [s.maxFailures, Math.ceil(s.windowMs)]);
    const wait = await this.redis.eval(RESERVE_ATTEMPT, keys.length, ...keys, ...args);
    return Number(wait);
  }

  /** The attempt failed; returns the keys of scopes that are now locked. */
  async failed(scopes: FailureScope[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) =>
      pipeline.eval(
        SETTLE_FAILURE,
        2,
        `failures:count:${s.key}`,
        `failures:lock:${s.key}`,
        s.maxFailures,
        Math.ceil(s.windowMs),
      ),
    );
    const results = (await pipeline.exec()) ?? [];
    return scopes.filter((_, i) => results[i]?.[1] === 1).map((s) => s.key);
  }

  /** The attempt succeeded: it no longer counts against any scope. */
  async succeeded(scopes: FailureScope[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    scopes.forEach((s) => pipeline.eval(CANCEL_ATTEMPT, 1, `failures:count:${s.key}`));
    await pipeline.exec();
  }

  async reset(scope: FailureScope): Promise<void> {
    await this.redis.del(`failures:count:${scope.key}`);
  }
}
