import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import type { DomainEvent } from '../core/events/domain-event';
import { DomainEventSubscriber, DomainEvents } from '../core/events/domain-events';
import { NewDelivery, WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookQueue } from './webhook-queue';
import { WebhooksRepository } from './webhooks.repository';

/** Delivery ids written inside a transaction wait here (on its query runner) for its commit. */
const PENDING_DELIVERIES = Symbol('pendingWebhookDeliveries');
type RunnerData = { [PENDING_DELIVERIES]?: string[] };

/** The Standard Webhooks body of a domain event: `{ type, timestamp, data }`. */
export function payloadOf(event: DomainEvent): Record<string, unknown> {
  return {
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: {
      resourceType: event.resourceType,
      resourceId: event.resourceId,
      caseId: event.caseId,
      actorId: event.actorId,
      title: event.title,
      ...event.data,
    },
  };
}

/**
 * The webhooks' side of the outbox. Inside the publishing transaction it writes one
 * delivery row per event and subscribed endpoint, so a delivery exists exactly when the
 * change committed; once that transaction commits, the rows go on the queue (a rollback
 * forgets them). A process that dies between commit and enqueue loses nothing: the sweep
 * finds pending rows that nobody attempted.
 */
@Injectable()
export class WebhookOutbox implements DomainEventSubscriber, EntitySubscriberInterface {
  constructor(
    events: DomainEvents,
    @InjectDataSource() dataSource: DataSource,
    private readonly webhooks: WebhooksRepository,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly queue: WebhookQueue,
  ) {
    events.subscribe(this);
    dataSource.subscribers.push(this);
  }

  async onEvents(events: readonly DomainEvent[], manager: EntityManager): Promise<void> {
    const types = [...new Set(events.map((event) => event.type))];
    const endpoints = await this.webhooks.subscribedTo(types, manager);
    if (endpoints.length === 0) return;
    const rows: NewDelivery[] = [];
    for (const event of events) {
      const payload = payloadOf(event);
      for (const endpoint of endpoints) {
        if (endpoint.events.includes('*') || endpoint.events.includes(event.type)) {
          rows.push({ webhookId: endpoint.id, eventType: event.type, payload });
        }
      }
    }
    this.enqueueAfterCommit(await this.deliveries.insertMany(rows, manager), manager);
  }

  /** Enqueues deliveries when `manager`'s transaction commits, or now outside one. */
  enqueueAfterCommit(ids: readonly string[], manager: EntityManager): void {
    const runner = manager.queryRunner;
    if (runner?.isTransactionActive) {
      const data = runner.data as RunnerData;
      (data[PENDING_DELIVERIES] ??= []).push(...ids);
      return;
    }
    this.queue.soon(ids);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const ids = this.take(event.queryRunner);
    if (ids) this.queue.soon(ids);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.take(event.queryRunner);
  }

  private take(runner: QueryRunner): string[] | undefined {
    if (runner.isTransactionActive) return undefined; // a savepoint, not the end
    const data = runner.data as RunnerData;
    const ids = data[PENDING_DELIVERIES];
    delete data[PENDING_DELIVERIES];
    return ids;
  }
}
