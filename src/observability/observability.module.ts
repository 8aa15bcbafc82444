import { BullModule } from '@nestjs/bullmq';
import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { ConversationsModule } from '../conversations/conversations.module';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { ResourceFiguresService } from './resource-figures.service';
import { QueueName } from '../core/queue/queue-names';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { SystemStatsController } from './system-stats.controller';
import { SystemStatsService } from './system-stats.service';

/** Observes every response's latency, labelled by route pattern (not raw URL). */
class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const fastify = (
      this.adapterHost.httpAdapter as { getInstance(): FastifyInstance } | undefined
    )?.getInstance();
    if (!fastify) return;
    fastify.addHook('onResponse', (request, reply, done) => {
      this.metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
}

@Module({
  imports: [
    ConversationsModule,
    MaintenanceModule,
    BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name }))),
  ],
  controllers: [MetricsController, SystemStatsController],
  providers: [
    MetricsService,
    SystemStatsService,
    ResourceFiguresService,
    {
      provide: HttpMetricsHook,
      inject: [HttpAdapterHost, MetricsService],
      useFactory: (h: HttpAdapterHost, m: MetricsService) => new HttpMetricsHook(h, m),
    },
  ],
  exports: [MetricsService],
})
export class ObservabilityModule {}
