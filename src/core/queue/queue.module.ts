import { BullModule } from '@nestjs/bullmq';
import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { createRedisClient, isCluster, redisOptionsFromUrl } from '../redis/redis-options';

const CLUSTER_CONNECTION = Symbol('BULLMQ_CLUSTER_CONNECTION');

/**
 * On a Redis Cluster BullMQ needs a cluster client, and every key of a queue in one slot:
 * the prefix becomes the hash tag `{<REDIS_PREFIX>:bull}`. All queues then share that one
 * slot; they carry control traffic (a flush job per batch window, archive jobs), while
 * the heavy keys (turn buffers, live windows, rate limits) are spread over the slots.
 */
export function bullPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix.replace(/[{}]/g, '')}:bull}` : `${prefix}:bull`;
}

/** The shared cluster client BullMQ's queues use (its workers duplicate it); closed last. */
@Injectable()
class ClusterConnectionShutdown implements OnApplicationShutdown {
  constructor(@Inject(CLUSTER_CONNECTION) private readonly connection: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: CLUSTER_CONNECTION,
      inject: [AppConfig],
      useFactory: (config: AppConfig): Redis | null =>
        isCluster({ clusterNodes: config.get('REDIS_CLUSTER_NODES') })
          ? createRedisClient({
              url: config.get('REDIS_URL'),
              clusterNodes: config.get('REDIS_CLUSTER_NODES'),
              maxRetriesPerRequest: null,
            })
          : null,
    },
    ClusterConnectionShutdown,
  ],
  exports: [CLUSTER_CONNECTION],
})
class BullConnectionModule {}

/**
 * BullMQ on the service's Redis. Queue keys live under `REDIS_PREFIX:bull` (on a cluster,
 * see bullPrefix). Workers need `maxRetriesPerRequest: null` so a Redis blip pauses them
 * instead of failing jobs.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      imports: [BullConnectionModule],
      inject: [AppConfig, CLUSTER_CONNECTION],
      useFactory: (config: AppConfig, cluster: Redis | null) => ({
        connection: cluster ?? {
          ...redisOptionsFromUrl(config.get('REDIS_URL')),
          maxRetriesPerRequest: null,
        },
        prefix: bullPrefix(config.get('REDIS_PREFIX'), cluster !== null),
      }),
    }),
  ],
})
export class QueueModule {}
