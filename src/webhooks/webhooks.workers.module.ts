import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { QueueName } from '../core/queue/queue-names';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhooksModule } from './webhooks.module';
import { WebhooksProcessor } from './webhooks.processor';

/** The `webhooks` queue's processor (imported by WorkersModule). */
@Module({
  imports: [
    AuditModule,
    AuthModule,
    WebhooksModule,
    BullModule.registerQueue({ name: QueueName.Webhooks }),
  ],
  providers: [WebhookDispatcher, WebhooksProcessor],
})
export class WebhooksWorkersModule {}
