import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainEvent } from './domain-event';

/**
 * Writes what an event causes with the transaction's manager. Runs inside the
 * publishing transaction: an error here rolls the change back, so keep it to inserts.
 */
export interface DomainEventSubscriber {
  onEvents(events: readonly DomainEvent[], manager: EntityManager): Promise<void>;
}

/**
 * The outbox's front door. Feature modules publish with their transaction's manager;
 * notifications and webhooks subscribe at start-up (in every process that publishes, API
 * and worker), so the features never import them.
 */
@Injectable()
export class DomainEvents {
  private readonly subscribers: DomainEventSubscriber[] = [];

  subscribe(subscriber: DomainEventSubscriber): void {
    this.subscribers.push(subscriber);
  }

  async publish(
    events: DomainEvent | readonly DomainEvent[],
    manager: EntityManager,
  ): Promise<void> {
    const list = Array.isArray(events)
      ? (events as readonly DomainEvent[])
      : [events as DomainEvent];
    if (list.length === 0) return;
    for (const subscriber of this.subscribers) await subscriber.onEvents(list, manager);
  }
}
