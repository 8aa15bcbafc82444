import { Injectable, OnModuleInit } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainEvent, NOTIFICATION_TYPES } from '../core/events/domain-event';
import { DomainEvents, DomainEventSubscriber } from '../core/events/domain-events';
import { NotificationFeed } from './notification-feed';
import { NotificationsRepository } from './notifications.repository';

const NOTIFIED: ReadonlySet<string> = new Set(NOTIFICATION_TYPES);

/**
 * The outbox's notification side: every event of a notification type becomes one row per
 * recipient, inserted with the publishing transaction's manager, so a notification exists
 * exactly when the change that caused it committed. Committed rows then go to the live
 * streams (NotificationFeed). Webhook-only types are not notifications.
 */
@Injectable()
export class NotificationWriter implements DomainEventSubscriber, OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    private readonly notifications: NotificationsRepository,
    private readonly feed: NotificationFeed,
  ) {}

  onModuleInit(): void {
    this.events.subscribe(this);
  }

  async onEvents(events: readonly DomainEvent[], manager: EntityManager): Promise<void> {
    for (const event of events) {
      if (!NOTIFIED.has(event.type)) continue;
      this.feed.afterCommit(await this.notifications.insertFor(event, manager), manager);
    }
  }
}
