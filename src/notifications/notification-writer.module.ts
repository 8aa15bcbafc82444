import { Module } from '@nestjs/common';
import { NotificationFeed } from './notification-feed';
import { NotificationWriter } from './notification-writer';
import { NotificationsRepository } from './notifications.repository';

/**
 * What writes notifications: imported by every process that publishes domain events
 * (API, worker, CLI), so none of them changes anything without its notifications.
 */
@Module({
  providers: [NotificationsRepository, NotificationFeed, NotificationWriter],
  exports: [NotificationsRepository],
})
export class NotificationWriterModule {}
