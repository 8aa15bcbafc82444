import { Injectable } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../core/config/app-config';
import { Clock } from '../core/clock/clock';
import { Page, pageOf, PageQuery } from '../core/http/pagination';
import { NotFoundProblem, ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { CreateWebhookDto, ListDeliveriesQuery, UpdateWebhookDto } from './dto/webhook.dto';
import { WebhookDeliveryAttemptEntity } from './entities/webhook-delivery-attempt.entity';
import { WebhookDeliveryEntity } from './entities/webhook-delivery.entity';
import { WebhookEntity } from './entities/webhook.entity';
import { ipLiteralOf, RefusedAddress, WebhookAddressPolicy } from './webhook-address-policy';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookOutbox } from './webhook-outbox';
import { newWebhookSecret } from './webhook-signature';
import { WebhookChanges, WebhooksRepository } from './webhooks.repository';
import { WebhooksErrorCode, WebhooksException } from './webhooks.exception';

export const TEST_EVENT_TYPE = 'webhook.test';

/** Webhook endpoints and their delivery log (`webhooks:manage`, SPEC section 11). */
@Injectable()
export class WebhooksService {
  private readonly policy: WebhookAddressPolicy;

  constructor(
    config: AppConfig,
    private readonly webhooks: WebhooksRepository,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly outbox: WebhookOutbox,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    this.policy = new WebhookAddressPolicy(config.get('WEBHOOK_ALLOWED_HOSTS'));
  }

  async create(
    actor: Actor,
    dto: CreateWebhookDto,
  ): Promise<{ webhook: WebhookEntity; secret: string }> {
    const url = await this.checkedUrl(dto.url);
    const secret = newWebhookSecret();
    const webhook = await this.webhooks.transaction(async (manager) => {
      const created = await this.webhooks.insert(
        {
          url,
          description: dto.description ?? '',
          events: dto.events,
          secret,
          createdBy: actor.userId,
        },
        manager,
      );
      await this.audit.record(
        {
          action: 'webhook.create',
          resourceType: 'webhook',
          resourceId: created.id,
          details: { url: redacted(url), events: dto.events },
        },
        manager,
      );
      return created;
    });
    return { webhook, secret };
  }

  async list(query: PageQuery): Promise<Page<WebhookEntity>> {
    const [rows, total] = await this.webhooks.list(query.offset, query.limit);
    return pageOf(rows, total, query);
  }

  async get(id: string): Promise<WebhookEntity> {
    const webhook = await this.webhooks.find(id);
    if (!webhook) throw new NotFoundProblem('webhook');
    return webhook;
  }

  async update(id: string, dto: UpdateWebhookDto): Promise<WebhookEntity> {
    const url = dto.url !== undefined ? await this.checkedUrl(dto.url) : undefined;
    return this.webhooks.transaction(async (manager) => {
      const current = await this.webhooks.lock(id, manager);
      if (!current) throw new NotFoundProblem('webhook');
      const changes: WebhookChanges = {
        ...(url !== undefined ? { url } : {}),
        ...(dto.events !== undefined ? { events: dto.events } : {}),
        ...(dto.description !== undefined ? { description: dto.description } : {}),
      };
      if (dto.enabled === true && !current.enabled) {
        Object.assign(changes, { enabled: true, consecutiveFailures: 0, disabledAt: null });
      } else if (dto.enabled === false && current.enabled) {
        Object.assign(changes, { enabled: false, disabledAt: this.clock.now() });
      }
      const updated = await this.webhooks.update(id, changes, manager);
      await this.audit.record(
        {
          action: 'webhook.update',
          resourceType: 'webhook',
          resourceId: id,
          details: { fields: Object.keys(changes) },
        },
        manager,
      );
      return updated;
    });
  }

  async delete(id: string): Promise<void> {
    await this.webhooks.transaction(async (manager) => {
      if (!(await this.webhooks.delete(id, manager))) throw new NotFoundProblem('webhook');
      await this.audit.record(
        { action: 'webhook.delete', resourceType: 'webhook', resourceId: id },
        manager,
      );
    });
  }

  /** Sends a `webhook.test` event to this endpoint only, through the usual delivery path. */
  async test(id: string): Promise<WebhookDeliveryEntity> {
    return this.webhooks.transaction(async (manager) => {
      const webhook = await this.webhooks.lock(id, manager);
      if (!webhook) throw new NotFoundProblem('webhook');
      if (!webhook.enabled) throw new WebhooksException(WebhooksErrorCode.Disabled);
      const [deliveryId] = await this.deliveries.insertMany(
        [
          {
            webhookId: id,
            eventType: TEST_EVENT_TYPE,
            payload: {
              type: TEST_EVENT_TYPE,
              timestamp: this.clock.now().toISOString(),
              data: { webhookId: id },
            },
          },
        ],
        manager,
      );
      await this.audit.record(
        { action: 'webhook.test', resourceType: 'webhook', resourceId: id },
        manager,
      );
      this.outbox.enqueueAfterCommit([deliveryId!], manager);
      return (await this.deliveries.findOfWebhook(id, deliveryId!, manager))!;
    });
  }

  async listDeliveries(
    id: string,
    query: ListDeliveriesQuery,
  ): Promise<Page<WebhookDeliveryEntity>> {
    await this.get(id);
    const [rows, total] = await this.deliveries.listOfWebhook(id, {
      status: query.status,
      offset: query.offset,
      limit: query.limit,
    });
    return pageOf(rows, total, query);
  }

  async getDelivery(
    id: string,
    deliveryId: string,
  ): Promise<{ delivery: WebhookDeliveryEntity; attempts: WebhookDeliveryAttemptEntity[] }> {
    const delivery = await this.deliveries.findOfWebhook(id, deliveryId);
    if (!delivery) throw new NotFoundProblem('delivery');
    return { delivery, attempts: await this.deliveries.attemptsOf(deliveryId) };
  }

  /**
   * Sends a delivery again with the same id (receivers deduplicate on `webhook-id`): one
   * more attempt now, whatever its state; retries follow only while the schedule has room.
   */
  async redeliver(id: string, deliveryId: string): Promise<WebhookDeliveryEntity> {
    return this.webhooks.transaction(async (manager) => {
      const webhook = await this.webhooks.lock(id, manager);
      if (!webhook) throw new NotFoundProblem('webhook');
      if (!webhook.enabled) throw new WebhooksException(WebhooksErrorCode.Disabled);
      const delivery = await this.deliveries.findOfWebhook(id, deliveryId, manager);
      if (!delivery) throw new NotFoundProblem('delivery');
      if (!(await this.deliveries.makeDue(deliveryId, manager))) {
        throw new WebhooksException(WebhooksErrorCode.DeliveryInFlight);
      }
      await this.audit.record(
        {
          action: 'webhook.redeliver',
          resourceType: 'webhook',
          resourceId: id,
          details: { deliveryId, eventType: delivery.eventType, previousStatus: delivery.status },
        },
        manager,
      );
      this.outbox.enqueueAfterCommit([deliveryId], manager);
      return (await this.deliveries.findOfWebhook(id, deliveryId, manager))!;
    });
  }

  /**
   * An http(s) URL without credentials whose host is, or resolves only to, addresses the
   * policy allows (SPEC section 11, TARGETS S10); 400 otherwise. Delivery checks again.
   */
  private async checkedUrl(raw: string): Promise<string> {
    const refuse = (message: string): never => {
      throw new ValidationProblem([{ field: 'url', message }]);
    };
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return refuse('url must be an absolute http or https URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return refuse('url must be an http or https URL');
    }
    if (url.username !== '' || url.password !== '') {
      return refuse('url must not contain credentials');
    }
    const literal = ipLiteralOf(url.hostname);
    let addresses: string[];
    if (literal !== null) {
      addresses = [literal];
    } else {
      try {
        addresses = (await lookup(url.hostname, { all: true })).map((a) => a.address);
      } catch {
        return refuse(`url host ${url.hostname} does not resolve`);
      }
    }
    try {
      this.policy.check(addresses);
    } catch (error) {
      if (error instanceof RefusedAddress) {
        return refuse(
          `url must not lead to a loopback, private, link-local or metadata address (${error.address})`,
        );
      }
      throw error;
    }
    return url.toString();
  }
}

/** The URL without its query string, which may carry a receiver's token. */
function redacted(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
