import {
  Body,
  Controller,
  ExecutionContext,
  Get,
  Headers,
  HttpCode,
  Patch,
  Post,
  Query,
  Res,
  Sse,
  SseSignal,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Observable } from 'rxjs';
import { etagOf, IfMatchVersion } from '../core/http/etag';
import { CursorPage, Page, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { GuardedStreams } from '../core/sse/guarded-streams';
import { StreamContext } from '../core/sse/stream-access';
import { ConversationsService } from './conversations.service';
import {
  ConversationResponse,
  CreateConversationDto,
  JoinConversationDto,
  ListConversationsQuery,
  RecentQuery,
  StatsResponse,
  TurnCursorQuery,
  UpdateConversationDto,
  VerifyResponse,
  WindowQuery,
} from './dto/conversation.dto';
import { IngestResponse, TurnBatchDto, TurnDto, TurnResponse } from './dto/turn.dto';
import { ConversationEntity } from './entities/conversation.entity';
import { TurnsService } from './turns/turns.service';

@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class ConversationsController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly turns: TurnsService,
    private readonly streams: GuardedStreams,
  ) {}

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
  @ApiOperation({ summary: 'Update a conversation' })
  async update(
    @UuidParam() id: string,
    @Body() dto: UpdateConversationDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationResponse> {
    return this.respond(await this.conversations.update(id, dto, version), reply);
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
    const { conversation, sealJobId } = await this.conversations.end(id);
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

  @Post(':id/turns')
  @Authenticated({
    anyPermission: ['conversations:ingest', 'conversations:write'],
    resource: 'conversation',
  })
  @HttpCode(202)
  @ApiExtraModels(TurnDto, TurnBatchDto)
  @ApiBody({
    schema: {
      oneOf: [{ $ref: getSchemaPath(TurnDto) }, { $ref: getSchemaPath(TurnBatchDto) }],
    },
  })
  @ApiAcceptedResponse({ type: IngestResponse })
  @ApiOperation({ summary: 'Post one turn or a batch of turns' })
  ingest(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() body: unknown,
  ): Promise<IngestResponse> {
    return this.turns.ingest(actor, id, body);
  }

  @Get(':id/turns')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: "List a conversation's turns (cursor pages)" })
  async listTurns(
    @UuidParam() id: string,
    @Query() query: TurnCursorQuery,
  ): Promise<CursorPage<TurnResponse>> {
    const after = query.after ? Number(query.after) : 0;
    const data = await this.turns.listAfter(id, after, query.limit + 1);
    const page = data.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      data: page,
      meta: { nextCursor: data.length > query.limit && last ? String(last.messageNumber) : null },
    };
  }

  @Get(':id/turns/recent')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: 'Get the turns of the last minutes' })
  async recent(
    @UuidParam() id: string,
    @Query() query: RecentQuery,
  ): Promise<{ data: TurnResponse[] }> {
    return { data: await this.turns.recent(id, query.minutes) };
  }

  @Get(':id/turns/window')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: 'Get a window of turns before a message' })
  async window(
    @UuidParam() id: string,
    @Query() query: WindowQuery,
  ): Promise<{ data: TurnResponse[] }> {
    return { data: await this.turns.window(id, query.size, query.before) };
  }

  /**
   * Ends as soon as the caller loses access (re-checked on every relevant change and every
   * SSE_RECHECK_SECONDS); 429 beyond SSE_MAX_PER_USER open streams (see README).
   */
  @Sse(':id/stream')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: 'Stream new turns (server-sent events)' })
  async stream(
    @UuidParam() id: string,
    @CurrentActor() actor: Actor,
    @StreamContext() context: ExecutionContext,
    @SseSignal() signal: AbortSignal,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<Observable<{ id: string; type: string; data: TurnResponse }>> {
    const cursor = await this.turns.streamStart(id, lastEventId);
    return this.streams.open({
      context,
      actor,
      signal,
      resourceTags: () => this.conversations.accessTags(id),
      source: this.turns.stream(id, cursor),
    });
  }
}
