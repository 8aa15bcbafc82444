import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';

export const REDIS = Symbol('REDIS');
/** The shared application Redis client; every key it touches carries `REDIS_PREFIX:`. */
export const InjectRedis = (): ParameterDecorator => Inject(REDIS);

export function createRedisClient(url: string, keyPrefix?: string): Redis {
  return new Redis(url, {
    keyPrefix,
    lazyConnect: false,
    enableReadyCheck: true,
    // Commands fail fast while Redis is away instead of piling up for ever.
    maxRetriesPerRequest: 2,
  });
}

@Injectable()
class RedisShutdown implements OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        createRedisClient(config.get('REDIS_URL'), `${config.get('REDIS_PREFIX')}:`),
    },
    RedisShutdown,
  ],
  exports: [REDIS],
})
export class RedisModule {}
