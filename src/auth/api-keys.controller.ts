import { Body, Controller, Delete, Get, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyResponse, CreateApiKeyDto, CreatedApiKeyResponse } from './dto/api-key.dto';

/** Every caller manages their own keys; nobody sees anyone else's. */
@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Authenticated({ notByApiKey: true })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiOperation({ summary: 'Create an API key' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedApiKeyResponse> {
    const { entity, key } = await this.keys.create(actor, dto);
    void reply
      .header('location', `/api/v1/api-keys/${entity.id}`)
      .header('cache-control', 'no-store');
    return { ...ApiKeyResponse.from(entity), key };
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'List API keys' })
  async list(@CurrentActor() actor: Actor): Promise<{ data: ApiKeyResponse[] }> {
    return { data: (await this.keys.list(actor)).map(ApiKeyResponse.from) };
  }

  @Get(':id')
  @Authenticated()
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiOperation({ summary: 'Get an API key' })
  async get(@CurrentActor() actor: Actor, @UuidParam() id: string): Promise<ApiKeyResponse> {
    return ApiKeyResponse.from(await this.keys.get(actor, id));
  }

  @Delete(':id')
  @Authenticated()
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  revoke(@CurrentActor() actor: Actor, @UuidParam() id: string): Promise<void> {
    return this.keys.revoke(actor, id);
  }
}
