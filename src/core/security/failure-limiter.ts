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

  async reset(scope: FailureScope): Promise<void> {
    await this.redis.del(`failures:count:${scope.key}`);
  }
}
