import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { createRedisClient } from './redis-options';

export const REDIS = Symbol('REDIS');
/** The shared application Redis client; every key it touches carries `REDIS_PREFIX:`. */
export const InjectRedis = (): ParameterDecorator => Inject(REDIS);

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
        createRedisClient({
          url: config.get('REDIS_URL'),
          clusterNodes: config.get('REDIS_CLUSTER_NODES'),
          keyPrefix: `${config.get('REDIS_PREFIX')}:`,
        }),
    },
    RedisShutdown,
  ],
  exports: [REDIS],
})
export class RedisModule {}
