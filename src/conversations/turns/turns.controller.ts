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
  Sse,
  SseSignal,
  UseGuards,
} from '@nestjs/common';
import { StreamRoomGuard } from '../../core/sse/stream-room.guard';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { IfMatchVersion } from '../../core/http/etag';
import { CursorPage } from '../../core/http/pagination';
import { UuidParam } from '../../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../../core/security/access.decorators';
import type { Actor } from '../../core/security/actor';
import { GuardedStreams } from '../../core/sse/guarded-streams';
import { StreamContext } from '../../core/sse/stream-access';
import { ConversationsService } from '../conversations.service';
import { RecentQuery, TurnListQuery, WindowQuery } from '../dto/conversation.dto';
import {
  IngestResponse,
  MessageNumberParam,
  ReviseTurnDto,
  TurnBatchDto,
  TurnDto,
  TurnResponse,
  TurnRevisionResponse,
} from '../dto/turn.dto';
import { ConversationEvent, TurnsService } from './turns.service';

/** The turns of one conversation: ingestion, reading back and the live stream. */
@ApiTags('conversations')
@ApiBearerAuth()
@Controller('conversations')
export class TurnsController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly turns: TurnsService,
    private readonly streams: GuardedStreams,
  ) {}

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
  @ApiOperation({
    summary: "List a conversation's turns (cursor pages), optionally filtered",
    description:
      'Filters combine (AND); buffered turns and not-yet-persisted revisions are included.',
  })
  async list(
    @UuidParam() id: string,
    @Query() query: TurnListQuery,
  ): Promise<CursorPage<TurnResponse>> {
    const after = query.after ? Number(query.after) : 0;
    const { data, nextCursor } = await this.turns.list(id, after, query.limit, {
      speaker: query.speaker,
      businessDomain: query.businessDomain,
      contextDetected: query.contextDetected,
      confidenceLevel: query.confidenceLevel,
      cleaningLevel: query.cleaningLevel,
      cleaned: query.cleaned === undefined ? undefined : query.cleaned === 'true',
      errors: query.errors === undefined ? undefined : query.errors === 'true',
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
    });
    return { data, meta: { nextCursor } };
  }

  @Get(':id/turns/:messageNumber')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: 'Get one turn as it now is (latest revision)' })
  findOne(
    @UuidParam() id: string,
    @MessageNumberParam() messageNumber: number,
  ): Promise<TurnResponse> {
    return this.turns.findOne(id, messageNumber);
  }

  /** Viewers read only: the access layer's `write` level (PATCH) refuses them with 403. */
  @Patch(':id/turns/:messageNumber')
  @Authenticated({
    anyPermission: ['conversations:ingest', 'conversations:write'],
    resource: 'conversation',
  })
  @ApiBody({ type: ReviseTurnDto })
  @ApiOkResponse({ type: TurnResponse })
  @ApiOperation({
    summary: "Revise a turn's cleaning fields",
    description:
      'Only the cleaning fields change; each PATCH is a new revision. If-Match: "<revision>" makes it conditional (412).',
  })
  revise(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @MessageNumberParam() messageNumber: number,
    // Validated in the service (a fast path first, then the ReviseTurnDto rules).
    @Body() body: unknown,
    @IfMatchVersion() revision: number | undefined,
  ): Promise<TurnResponse> {
    return this.turns.revise(actor, id, messageNumber, body, revision);
  }

  @Get(':id/turns/:messageNumber/revisions')
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({ summary: "A turn's revisions, oldest first" })
  async revisions(
    @UuidParam() id: string,
    @MessageNumberParam() messageNumber: number,
  ): Promise<{ data: TurnRevisionResponse[] }> {
    return { data: await this.turns.revisions(id, messageNumber) };
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
  @UseGuards(StreamRoomGuard)
  @Authenticated({ permission: 'conversations:read', resource: 'conversation' })
  @ApiOperation({
    summary: 'Stream the conversation (server-sent events)',
    description:
      'Named events: turn, turn.revised, conversation.updated (at most 1/s), conversation.ended; Last-Event-ID resumes.',
  })
  async stream(
    @UuidParam() id: string,
    @CurrentActor() actor: Actor,
    @StreamContext() context: ExecutionContext,
    @SseSignal() signal: AbortSignal,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<Observable<ConversationEvent>> {
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
