import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
} from 'class-validator';
import { DOMAIN_EVENT_TYPES } from '../../core/events/domain-event';
import { PageQuery } from '../../core/http/pagination';
import { IsOmittable, IsPrintableText } from '../../core/http/validation-patterns';
import type { WebhookDeliveryAttemptEntity } from '../entities/webhook-delivery-attempt.entity';
import type {
  WebhookDeliveryEntity,
  WebhookDeliveryStatus,
} from '../entities/webhook-delivery.entity';
import type { WebhookEntity } from '../entities/webhook.entity';

/** What a webhook may subscribe to: every domain event type, or `*` for all of them. */
export const SUBSCRIBABLE_EVENTS = ['*', ...DOMAIN_EVENT_TYPES] as const;
const DELIVERY_STATUSES: WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://hooks.example.com/verbatim', maxLength: 2048 })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiProperty({ enum: SUBSCRIBABLE_EVENTS, isArray: true, example: ['case.created'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SUBSCRIBABLE_EVENTS.length)
  @ArrayUnique()
  @IsIn(SUBSCRIBABLE_EVENTS, { each: true })
  events!: string[];

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOmittable()
  @IsString()
  @MaxLength(500)
  @IsPrintableText()
  description?: string;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional({ maxLength: 2048 })
  @IsOmittable()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ enum: SUBSCRIBABLE_EVENTS, isArray: true })
  @IsOmittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SUBSCRIBABLE_EVENTS.length)
  @ArrayUnique()
  @IsIn(SUBSCRIBABLE_EVENTS, { each: true })
  events?: string[];

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOmittable()
  @IsString()
  @MaxLength(500)
  @IsPrintableText()
  description?: string;

  @ApiPropertyOptional({
    description: 'true re-enables a disabled webhook and resets its failures',
  })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;
}

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: WebhookDeliveryStatus;
}

export class WebhookResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: SUBSCRIBABLE_EVENTS, isArray: true }) events!: string[];
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ description: 'Deliveries failed for good since the last success; 20 disable' })
  consecutiveFailures!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) disabledAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) createdBy!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;

  static from(webhook: WebhookEntity): WebhookResponse {
    return {
      id: webhook.id,
      url: webhook.url,
      description: webhook.description,
      events: webhook.events,
      enabled: webhook.enabled,
      consecutiveFailures: webhook.consecutiveFailures,
      disabledAt: webhook.disabledAt?.toISOString() ?? null,
      createdBy: webhook.createdBy,
      createdAt: webhook.createdAt.toISOString(),
      updatedAt: webhook.updatedAt.toISOString(),
    };
  }
}

export class CreatedWebhookResponse extends WebhookResponse {
  @ApiProperty({
    description:
      'The signing secret (whsec_ + base64 of 32 bytes). Shown only in this response: verify ' +
      'deliveries with it as Standard Webhooks describes.',
  })
  secret!: string;
}

export class DeliveryResponse {
  @ApiProperty({ format: 'uuid', description: 'Also the webhook-id header of every attempt' })
  id!: string;
  @ApiProperty() eventType!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status!: WebhookDeliveryStatus;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: Number }) lastStatusCode!: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty({ nullable: true, type: Number }) durationMs!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) nextAttemptAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) deliveredAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static from(delivery: WebhookDeliveryEntity): DeliveryResponse {
    return {
      id: delivery.id,
      eventType: delivery.eventType,
      status: delivery.status,
      attempts: delivery.attempts,
      lastStatusCode: delivery.lastStatusCode,
      lastError: delivery.lastError,
      durationMs: delivery.durationMs,
      nextAttemptAt:
        delivery.status === 'pending' ? (delivery.nextAttemptAt?.toISOString() ?? null) : null,
      deliveredAt: delivery.deliveredAt?.toISOString() ?? null,
      createdAt: delivery.createdAt.toISOString(),
    };
  }
}

export class AttemptResponse {
  @ApiProperty() attempt!: number;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ nullable: true, type: Number }) statusCode!: number | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ nullable: true, type: String, description: 'At most 1 KiB of the answer' })
  responseBody!: string | null;

  static from(attempt: WebhookDeliveryAttemptEntity): AttemptResponse {
    return {
      attempt: attempt.attempt,
      startedAt: attempt.startedAt.toISOString(),
      statusCode: attempt.statusCode,
      error: attempt.error,
      durationMs: attempt.durationMs,
      responseBody: attempt.responseBody,
    };
  }
}

export class DeliveryDetailResponse extends DeliveryResponse {
  @ApiProperty({ description: 'The body sent: { type, timestamp, data }' })
  payload!: Record<string, unknown>;
  @ApiProperty({ type: [AttemptResponse], description: 'Every attempt, in order' })
  attemptLog!: AttemptResponse[];
}
