import { Controller, Get, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import Redis from 'ioredis';
import { REDIS } from '../core/redis/redis.module';
import { InjectStorage } from '../core/storage/storage.module';
import type { StorageDriver } from '../core/storage/storage-driver';
import { caseAudioKey } from '../core/storage/storage-keys';
import { Public } from '../core/security/access.decorators';

// A probe must depend on nothing it does not check: never rate-limited (no Redis round trip
// before answering, never a 429 under load), see README "Rate limits".
@ApiExcludeController()
@Controller('health')
@Public()
@SkipThrottle()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectStorage() private readonly storage: StorageDriver,
  ) {}

  /** The process is up; says nothing about its dependencies. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready to serve: Postgres, Redis and the storage answer. 503 with details otherwise. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('postgres', { timeout: 1500 }),
      async () => {
        const indicator = this.indicators.check('redis');
        try {
          const pong = await Promise.race([
            this.redis.ping(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1500)),
          ]);
          return pong === 'PONG' ? indicator.up() : indicator.down({ message: 'unexpected reply' });
        } catch (error) {
          return indicator.down({
            message: error instanceof Error ? error.message : 'unreachable',
          });
        }
      },
      async () => {
        const indicator = this.indicators.check('storage');
        try {
          // A key that never exists: a reachable store answers "no such object".
          const probe = caseAudioKey(PROBE_ID, PROBE_ID, '.wav');
          await Promise.race([
            this.storage.head(probe),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1500)),
          ]);
          return indicator.up({ driver: this.storage.type });
        } catch (error) {
          return indicator.down({
            message: error instanceof Error ? error.message : 'unreachable',
          });
        }
      },
    ]);
  }
}

const PROBE_ID = '00000000-0000-4000-8000-000000000000';
