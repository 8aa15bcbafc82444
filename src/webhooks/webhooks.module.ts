import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { QueueName } from '../core/queue/queue-names';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookOutbox } from './webhook-outbox';
import { WebhookQueue } from './webhook-queue';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/**
 * Webhook endpoints and the outbox subscriber. Imported by the API and, through
 * WebhooksWorkersModule, by the worker: every process that publishes domain events
 * writes their deliveries.
 */
@Module({
  imports: [AuditModule, BullModule.registerQueue({ name: QueueName.Webhooks })],
  controllers: [WebhooksController],
  providers: [
    WebhooksRepository,
    WebhookDeliveriesRepository,
    WebhookQueue,
    WebhookOutbox,
    WebhooksService,
  ],
  exports: [WebhooksRepository, WebhookDeliveriesRepository, WebhookQueue],
})
export class WebhooksModule {}
