import { Module } from '@nestjs/common';
import { SseModule } from '../core/sse/sse.module';
import { NotificationWriterModule } from './notification-writer.module';
import { NotificationsController } from './notifications.controller';
import { NotificationsService } from './notifications.service';

/** `/me/notifications`: the list, read marks and the live stream. */
@Module({
  imports: [NotificationWriterModule, SseModule],
  controllers: [NotificationsController],
  providers: [NotificationsService],
  exports: [NotificationsService],
})
export class NotificationsModule {}
