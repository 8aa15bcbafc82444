import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';
import { AccessModule } from '../access/access.module';
import { AppConfig } from '../config/app-config';
import { REDIS } from '../redis/redis.module';
import { AccessGuard } from './access.guard';
import { ActorThrottlerGuard } from './actor-throttler.guard';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { FailureLimiter } from './failure-limiter';

@Global()
@Module({
  imports: [
    AccessModule,
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, REDIS],
      useFactory: (config: AppConfig, redis: Redis) => ({
        throttlers: [
          { ttl: config.get('RATE_LIMIT_TTL_SECONDS') * 1000, limit: config.get('RATE_LIMIT_MAX') },
        ],
        storage: new ThrottlerStorageRedisService(redis),
      }),
    }),
  ],
  providers: [
    FailureLimiter,
    AuthFailureLimiter,
    // Order matters: authenticate first so the rate limit can track the user.
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_GUARD, useClass: ActorThrottlerGuard },
  ],
  exports: [FailureLimiter, AuthFailureLimiter, AccessModule],
})
export class SecurityModule {}
