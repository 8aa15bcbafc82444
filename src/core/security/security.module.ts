import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AccessModule } from '../access/access.module';
import { AppConfig } from '../config/app-config';
import { AccessGuard } from './access.guard';
import { ActorThrottlerGuard } from './actor-throttler.guard';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { FailureLimiter } from './failure-limiter';
import { SharedRateCounter } from './shared-rate-counter';

/** The rate limit's store, a provider of its own so Nest flushes it on shutdown. */
@Module({ providers: [SharedRateCounter], exports: [SharedRateCounter] })
class RateCounterModule {}

@Global()
@Module({
  imports: [
    AccessModule,
    ThrottlerModule.forRootAsync({
      imports: [RateCounterModule],
      inject: [AppConfig, SharedRateCounter],
      useFactory: (config: AppConfig, counter: SharedRateCounter) => ({
        throttlers: [
          { ttl: config.get('RATE_LIMIT_TTL_SECONDS') * 1000, limit: config.get('RATE_LIMIT_MAX') },
        ],
        storage: counter,
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
