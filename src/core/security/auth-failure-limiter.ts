import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { Clock } from '../clock/clock';
import { AppConfig } from '../config/app-config';
import { ProblemException } from '../http/problem.exception';
import { InjectRedis } from '../redis/redis.module';

// Count one failure in a fixed window that starts with the first failure.
const COUNT_FAILURE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/** Addresses remembered per process; beyond this the oldest are forgotten (they fail again). */
const MAX_SUSPECTS = 100_000;

/**
 * Per-address limit on failed authentication (issue 11, F11). The general rate limit
 * tracks the authenticated user, so it runs after authentication and a request without
 * valid credentials never reached it: each wrong API key cost a database lookup, without
 * limit. The access guard asks `assertAllowed` before it checks any credential and calls
 * `recordFailure` when authentication fails. Only failures are counted, so many clients
 * with valid keys behind one address (a NAT, a fleet of processors) are not limited by it;
 * the count is taken after the answer, so a concurrent burst can overshoot the limit by
 * the requests already in flight, which is acceptable for a rate limit (unlike a password
 * check, a 256-bit API key cannot be guessed in a few more tries).
 *
 * The count lives in Redis so it holds across replicas, but asking Redis on every request
 * would cost every authenticated call a round trip for the sake of a few failing
 * addresses. So each process remembers the addresses that failed here within the window
 * and asks Redis only for those: an address that is failing against several replicas is
 * refused by each from its first failure there on (one extra credential lookup per replica
 * and window at most).
 */
@Injectable()
export class AuthFailureLimiter {
  /** Address → when this process may stop asking Redis about it (ms since the epoch). */
  private readonly suspects = new Map<string, number>();

  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  private key(ip: string | undefined): string {
    return `auth-failures:ip:${ip ?? 'unknown'}`;
  }

  private windowMs(): number {
    return this.config.get('RATE_LIMIT_TTL_SECONDS') * 1000;
  }

  private isSuspect(ip: string): boolean {
    const until = this.suspects.get(ip);
    if (until === undefined) return false;
    if (until > this.clock.nowMs()) return true;
    this.suspects.delete(ip);
    return false;
  }

  /** 429 with Retry-After once the address has failed too often in the current window. */
  async assertAllowed(ip: string | undefined): Promise<void> {
    if (!this.isSuspect(ip ?? 'unknown')) return;
    const key = this.key(ip);
    const [[, count], [, ttl]] = ((await this.redis.pipeline().get(key).pttl(key).exec()) ??
      []) as [[unknown, string | null], [unknown, number]];
    if (Number(count ?? 0) < this.config.get('AUTH_FAILURES_MAX_PER_IP')) return;
    throw new ProblemException({
      status: 429,
      title: 'Too Many Requests',
      code: 'too-many-authentication-failures',
      detail: 'Too many requests without valid credentials from your address. Try again later.',
      headers: { 'retry-after': String(Math.max(1, Math.ceil(ttl / 1000))) },
    });
  }

  async recordFailure(ip: string | undefined): Promise<void> {
    const address = ip ?? 'unknown';
    const until = this.clock.nowMs() + this.windowMs();
    // Map order is insertion order: re-insert so the oldest suspects are evicted first.
    this.suspects.delete(address);
    this.suspects.set(address, until);
    if (this.suspects.size > MAX_SUSPECTS) {
      this.suspects.delete(this.suspects.keys().next().value as string);
    }
    await this.redis.eval(COUNT_FAILURE, 1, this.key(ip), this.windowMs());
  }
}
