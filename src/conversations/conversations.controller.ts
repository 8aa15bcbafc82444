import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { etagOf, IfMatchVersion } from '../core/http/etag';
import { Page, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { ConversationsService } from './conversations.service';
import {
  ConversationResponse,
  CreateConversationDto,
  JoinConversationDto,
  ListConversationsQuery,
  StatsResponse,
  UpdateConversationDto,
  VerifyResponse,
} from './dto/conversation.dto';
import { ConversationEntity } from './entities/conversation.entity';

/** Conversation management: start, join, list, update, end, verify; turns live in turns/. */
@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  private respond(entity: ConversationEntity, reply: FastifyReply): ConversationResponse {
    void reply.header('etag', etagOf(entity.version));
    return ConversationResponse.from(entity);
  }

  @Post()
  @Authenticated({ permission: 'conversations:write' })
  @ApiCreatedResponse({ type: ConversationResponse })
  @ApiOperation({ summary: 'Start a conversation' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateConversationDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse> {
    const created = await this.conversations.create(actor, dto);
    void reply.header('location', `/api/v1/conversations/${created.id}`);
    return this.respond(created, reply);
  }

  @Post('join')
  @Authenticated({ permission: 'conversations:read' })
  @HttpCode(200)
  @ApiOkResponse({ type: ConversationResponse })
  @ApiOperation({ summary: 'Join a conversation with a join code' })
  async join(
    @CurrentActor() actor: Actor,
    @Body() dto: JoinConversationDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse> {
    return this.respond(await this.conversations.join(actor, dto), reply);
  }

  @Get()
  @Authenticated({ permission: 'conversations:read' })
  @ApiOperation({ summary: 'List visible conversations' })
  async list(
    @CurrentActor() actor: Actor,
    @Query() query: ListConversationsQuery,
  ): Promise<Page<ConversationResponse>> {
    const [rows, total] = await this.conversations.list(actor, query);
    return pageOf(
      rows.map((row) => ConversationResponse.from(row)),
      total,
      query,
    );
  }

  @Get(':id')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOkResponse({ type: ConversationResponse })
  @ApiOperation({ summary: 'Get a conversation' })
  async get(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse> {
    return this.respond(await this.conversations.get(id), reply);
  }

  @Patch(':id')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation' })
  @ApiOkResponse({ type: ConversationResponse })
  @ApiOperation({
    summary: 'Update a conversation',
    description:
      'Participants who may write change name, description and metadata; joinPassword and caseId take an owner (or cases:all).',
  })
  async update(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: UpdateConversationDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse> {
    return this.respond(await this.conversations.update(actor, id, dto, version), reply);
  }

  /** Owners, or conversations:write with cases:all; the conversation is 404 afterwards. */
  @Delete(':id')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation', access: 'manage' })
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a conversation' })
  delete(@UuidParam() id: string): Promise<void> {
    return this.conversations.delete(id);
  }

  /** 200 with the sealed conversation, or 202 when sealing continues in a job. */
  @Post(':id/end')
  @Authenticated({ permission: 'conversations:write', resource: 'conversation' })
  @ApiOkResponse({ type: ConversationResponse })
  @ApiOperation({ summary: 'End a conversation' })
  async end(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse & { sealJobId?: string }> {
    // Without `idleBefore`, end() either ends the conversation or throws.
    const { conversation, sealJobId } = (await this.conversations.end(id))!;
    void reply.status(sealJobId ? 202 : 200);
    return { ...this.respond(conversation, reply), ...(sealJobId ? { sealJobId } : {}) };
  }

  @Get(':id/verify')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOkResponse({ type: VerifyResponse })
  @ApiOperation({ summary: "Verify a conversation's turn chain" })
  verify(@UuidParam() id: string): Promise<VerifyResponse> {
    return this.conversations.verify(id);
  }

  @Get(':id/stats')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOkResponse({ type: StatsResponse })
  @ApiOperation({ summary: "Get a conversation's statistics" })
  stats(@UuidParam() id: string): Promise<StatsResponse> {
    return this.conversations.stats(id);
  }
}
