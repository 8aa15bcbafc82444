import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Page, PageQuery } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import {
  AttemptResponse,
  CreatedWebhookResponse,
  CreateWebhookDto,
  DeliveryDetailResponse,
  DeliveryResponse,
  ListDeliveriesQuery,
  UpdateWebhookDto,
  WebhookResponse,
} from './dto/webhook.dto';
import { WebhooksService } from './webhooks.service';

/** Outgoing webhooks: endpoints, test events and the delivery log (`webhooks:manage`). */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('webhooks')
@Authenticated({ permission: 'webhooks:manage' })
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedWebhookResponse })
  @ApiOperation({ summary: 'Create a webhook; the response shows its signing secret, once' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateWebhookDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedWebhookResponse> {
    const { webhook, secret } = await this.webhooks.create(actor, dto);
    void reply
      .header('location', `/api/v1/webhooks/${webhook.id}`)
      .header('cache-control', 'no-store');
    return { ...WebhookResponse.from(webhook), secret };
  }

  @Get()
  @ApiOperation({ summary: 'List webhooks' })
  async list(@Query() query: PageQuery): Promise<Page<WebhookResponse>> {
    const page = await this.webhooks.list(query);
    return { ...page, data: page.data.map(WebhookResponse.from) };
  }

  @Get(':id')
  @ApiOkResponse({ type: WebhookResponse })
  @ApiOperation({ summary: 'Get a webhook (never its secret)' })
  async get(@UuidParam() id: string): Promise<WebhookResponse> {
    return WebhookResponse.from(await this.webhooks.get(id));
  }

  @Patch(':id')
  @ApiOkResponse({ type: WebhookResponse })
  @ApiOperation({ summary: 'Change a webhook; enabled: true re-enables a disabled one' })
  async update(@UuidParam() id: string, @Body() dto: UpdateWebhookDto): Promise<WebhookResponse> {
    return WebhookResponse.from(await this.webhooks.update(id, dto));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a webhook and its delivery log' })
  delete(@UuidParam() id: string): Promise<void> {
    return this.webhooks.delete(id);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: DeliveryResponse })
  @ApiOperation({ summary: 'Send a webhook.test event to this webhook' })
  async test(@UuidParam() id: string): Promise<DeliveryResponse> {
    return DeliveryResponse.from(await this.webhooks.test(id));
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'Delivery log of a webhook, newest first' })
  async deliveries(
    @UuidParam() id: string,
    @Query() query: ListDeliveriesQuery,
  ): Promise<Page<DeliveryResponse>> {
    const page = await this.webhooks.listDeliveries(id, query);
    return { ...page, data: page.data.map(DeliveryResponse.from) };
  }

  @Get(':id/deliveries/:deliveryId')
  @ApiOkResponse({ type: DeliveryDetailResponse })
  @ApiOperation({ summary: 'One delivery with its body and every attempt in order' })
  async delivery(
    @UuidParam() id: string,
    @UuidParam('deliveryId') deliveryId: string,
  ): Promise<DeliveryDetailResponse> {
    const { delivery, attempts } = await this.webhooks.getDelivery(id, deliveryId);
    return {
      ...DeliveryResponse.from(delivery),
      payload: delivery.payload,
      attemptLog: attempts.map(AttemptResponse.from),
    };
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: DeliveryResponse })
  @ApiOperation({ summary: 'Send a delivery again, with the same webhook-id' })
  async redeliver(
    @UuidParam() id: string,
    @UuidParam('deliveryId') deliveryId: string,
  ): Promise<DeliveryResponse> {
    return DeliveryResponse.from(await this.webhooks.redeliver(id, deliveryId));
  }
}
