import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { UsersService } from '../auth/users.service';
import { DomainEvents } from '../core/events/domain-events';
import { AppConfig } from '../core/config/app-config';
import { Clock } from '../core/clock/clock';
import { WebhookAddressPolicy } from './webhook-address-policy';
import {
  AttemptRecord,
  ClaimedDelivery,
  WebhookDeliveriesRepository,
} from './webhook-deliveries.repository';
import { WebhookQueue } from './webhook-queue';
import { parseRetryDelays, retryDelayAfter } from './webhook-retry';
import { AttemptOutcome, WebhookSender } from './webhook-sender';
import { signWebhook } from './webhook-signature';
import { DELIVERIES_PER_JOB, WEBHOOK_OVERDUE_MS } from './webhooks.jobs';
import { WebhooksRepository } from './webhooks.repository';

/** SPEC section 11: an endpoint failing this many deliveries in a row is disabled. */
export const DISABLE_AFTER_FAILED_DELIVERIES = 20;

/**
 * Sends deliveries (Standard Webhooks), records every attempt, schedules retries and
 * disables endpoints that keep failing. Used by the `webhooks` queue's processor only.
 */
@Injectable()
export class WebhookDispatcher implements OnModuleDestroy {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly sender: WebhookSender;
  private readonly retryDelays: number[];
  private readonly lockMs: number;

  constructor(
    config: AppConfig,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly webhooks: WebhooksRepository,
    private readonly queue: WebhookQueue,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly users: UsersService,
    private readonly events: DomainEvents,
  ) {
    const timeoutMs = config.get('WEBHOOK_TIMEOUT_MS');
    this.sender = new WebhookSender(
      new WebhookAddressPolicy(config.get('WEBHOOK_ALLOWED_HOSTS')),
      timeoutMs,
    );
    this.retryDelays = parseRetryDelays(config.get('WEBHOOK_RETRY_DELAYS'));
    // Past the timeout, with room for recording the outcome; then the sweep may take it.
    this.lockMs = timeoutMs + 20_000;
  }

  onModuleDestroy(): void {
    this.sender.close();
  }

  /** One attempt of each due delivery among `ids`; returns how many were attempted. */
  async deliver(ids: readonly string[]): Promise<{ attempted: number; delivered: number }> {
    const claimed = await this.deliveries.claim(ids, this.lockMs);
    if (claimed.length === 0) return { attempted: 0, delivered: 0 };
    const outcomes = await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
    const records = claimed.map((delivery, i) => this.recordOf(delivery, outcomes[i]!));

    const succeeded = new Set<string>();
    const failedForGood = new Map<string, number>();
    claimed.forEach((delivery, i) => {
      const record = records[i]!;
      if (record.status === 'delivered' && delivery.consecutiveFailures > 0) {
        succeeded.add(delivery.webhookId);
      } else if (record.status === 'failed' && delivery.enabled) {
        failedForGood.set(delivery.webhookId, (failedForGood.get(delivery.webhookId) ?? 0) + 1);
      }
    });
    if (succeeded.size === 0 && failedForGood.size === 0) {
      // The common case: one statement, no transaction.
      await this.deliveries.record(records);
    } else {
      await this.deliveries.transaction(async (manager) => {
        await this.deliveries.record(records, manager);
        await this.webhooks.resetFailures([...succeeded], manager);
        await this.disableFailing(failedForGood, manager);
      });
    }
    const now = this.clock.nowMs();
    await this.queue.retry(
      records
        .filter((record) => record.status === 'pending' && record.nextAttemptAt)
        .map((record) => ({
          id: record.id,
          attempt: record.attempt + 1,
          delayMs: Math.max(0, record.nextAttemptAt!.getTime() - now),
        })),
    );
    return {
      attempted: claimed.length,
      delivered: records.filter((r) => r.status === 'delivered').length,
    };
  }

  private async disableFailing(
    failedForGood: ReadonlyMap<string, number>,
    manager: EntityManager,
  ): Promise<void> {
    const disabled = await this.webhooks.addFailures(
      failedForGood,
      DISABLE_AFTER_FAILED_DELIVERIES,
      manager,
    );
    if (disabled.length === 0) return;
    const admins = await this.users.adminIds();
    for (const id of disabled) {
      this.logger.warn(
        `webhook ${id} disabled after ${DISABLE_AFTER_FAILED_DELIVERIES} failed deliveries in a row`,
      );
      await this.audit.record(
        {
          action: 'webhook.disable',
          resourceType: 'webhook',
          resourceId: id,
          actorId: null,
          details: { failedDeliveriesInARow: DISABLE_AFTER_FAILED_DELIVERIES },
        },
        manager,
      );
      // In the same transaction as the disabling: every active admin is told, once.
      await this.events.publish(
        {
          type: 'webhook.disabled',
          actorId: null,
          caseId: null,
          resourceType: 'webhook',
          resourceId: id,
          title: `Webhook disabled after ${DISABLE_AFTER_FAILED_DELIVERIES} failed deliveries`,
          notifyOnly: admins,
          data: { webhookId: id, failedDeliveriesInARow: DISABLE_AFTER_FAILED_DELIVERIES },
          occurredAt: this.clock.now(),
        },
        manager,
      );
    }
  }

  /** Enqueues pending deliveries that are overdue: never enqueued, or their job was lost. */
  async sweep(): Promise<{ enqueued: number }> {
    const ids = await this.deliveries.overdue(WEBHOOK_OVERDUE_MS, 20 * DELIVERIES_PER_JOB);
    this.queue.soon(ids);
    return { enqueued: ids.length };
  }

  private attempt(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    if (!delivery.enabled) {
      return Promise.resolve({
        startedAt: this.clock.now(),
        durationMs: 0,
        statusCode: null,
        error: 'webhook disabled',
        responseBody: null,
      });
    }
    const body = JSON.stringify(delivery.payload);
    const timestamp = Math.floor(this.clock.nowMs() / 1000);
    return this.sender.send(
      delivery.url,
      {
        'webhook-id': delivery.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(delivery.secret, delivery.id, timestamp, body),
      },
      body,
    );
  }

  private recordOf(delivery: ClaimedDelivery, outcome: AttemptOutcome): AttemptRecord {
    const delivered = outcome.error === null;
    const delay =
      delivered || !delivery.enabled ? null : retryDelayAfter(this.retryDelays, delivery.attempt);
    return {
      id: delivery.id,
      attempt: delivery.attempt,
      status: delivered ? 'delivered' : delay === null ? 'failed' : 'pending',
      nextAttemptAt: delay === null ? null : this.clock.fromNow(delay),
      startedAt: outcome.startedAt,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: outcome.durationMs,
      responseBody: outcome.responseBody,
    };
  }
}
