import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { redisOptionsFromUrl } from '../redis/redis-options';

/**
 * BullMQ on the service's Redis. Queue keys live under `REDIS_PREFIX:bull`; with a
 * hash-tagged prefix such as `{verbatim}` every queue key lands in one Redis Cluster slot.
 * Workers need `maxRetriesPerRequest: null` so a Redis blip pauses them instead of failing jobs.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        connection: { ...redisOptionsFromUrl(config.get('REDIS_URL')), maxRetriesPerRequest: null },
        prefix: `${config.get('REDIS_PREFIX')}:bull`,
      }),
    }),
  ],
})
export class QueueModule {}
