import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { NotificationRetentionProcessor } from './notification-retention.processor';
import { NotificationRetentionService } from './notification-retention.service';
import { NotificationWriterModule } from './notification-writer.module';

/** The notification-retention processor; imported by WorkersModule. */
@Module({
  imports: [
    NotificationWriterModule,
    BullModule.registerQueue({ name: QueueName.NotificationRetention }),
  ],
  providers: [NotificationRetentionService, NotificationRetentionProcessor],
})
export class NotificationsWorkersModule {}
