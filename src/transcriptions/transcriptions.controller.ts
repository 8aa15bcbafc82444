import { Body, Controller, Get, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AudioFileResponse } from '../audio-files/dto/audio-file.dto';
import { Page, PageQuery, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { SpeakerNamesPipe } from './dto/speaker-names.pipe';
import {
  CreateTranscriptionDto,
  ExportQuery,
  TranscriptionResponse,
  TranscriptionSummaryResponse,
} from './dto/transcription.dto';
import { TranscriptionsService } from './transcriptions.service';

/** Transcriptions of one audio file: posted by processing engines, read by the case. */
@ApiTags('transcriptions')
@ApiBearerAuth()
@Controller('audio')
export class AudioTranscriptionsController {
  constructor(private readonly transcriptions: TranscriptionsService) {}

  /**
   * 201 with the new version (the audio file becomes `processed` and its claim is
   * released), or, for `{ error }`, 200 with the audio file marked `failed`.
   */
  @Post(':id/transcriptions')
  @Authenticated({ permission: 'transcriptions:write', resource: 'audio', access: 'read' })
  @ApiCreatedResponse({ type: TranscriptionResponse })
  @ApiOkResponse({ type: AudioFileResponse, description: 'The failure was recorded' })
  @ApiOperation({ summary: 'Post a transcription of an audio file' })
  async create(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: CreateTranscriptionDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TranscriptionResponse | AudioFileResponse> {
    const outcome = await this.transcriptions.create(actor, id, dto);
    if (outcome.kind === 'failed') {
      void reply.status(200);
      return AudioFileResponse.from(outcome.audio);
    }
    void reply.header('location', `/api/v1/transcriptions/${outcome.transcription.id}`);
    return TranscriptionResponse.from(outcome.transcription);
  }

  @Get(':id/transcriptions')
  @Authenticated({ permission: 'transcriptions:read', resource: 'audio' })
  @ApiOperation({ summary: "List an audio file's transcriptions" })
  async list(
    @UuidParam() id: string,
    @Query() query: PageQuery,
  ): Promise<Page<TranscriptionSummaryResponse>> {
    const [rows, total] = await this.transcriptions.list(id, query.offset, query.limit);
    return pageOf(rows.map(TranscriptionSummaryResponse.from), total, query);
  }

  @Get(':id/transcriptions/latest')
  @Authenticated({ permission: 'transcriptions:read', resource: 'audio' })
  @ApiOkResponse({ type: TranscriptionResponse })
  @ApiOperation({ summary: "Get an audio file's latest transcription" })
  async latest(@UuidParam() id: string): Promise<TranscriptionResponse> {
    return TranscriptionResponse.from(await this.transcriptions.latest(id));
  }
}

/** One transcription version: read, export, rename speakers. */
@ApiTags('transcriptions')
@ApiBearerAuth()
@Controller('transcriptions')
export class TranscriptionsController {
  constructor(private readonly transcriptions: TranscriptionsService) {}

  @Get(':id')
  @Authenticated({ permission: 'transcriptions:read', resource: 'transcription' })
  @ApiOkResponse({ type: TranscriptionResponse })
  @ApiOperation({ summary: 'Get a transcription' })
  async get(@UuidParam() id: string): Promise<TranscriptionResponse> {
    return TranscriptionResponse.from(await this.transcriptions.get(id));
  }

  @Get(':id/export')
  @Authenticated({ permission: 'transcriptions:read', resource: 'transcription' })
  @ApiProduces('text/plain', 'application/x-subrip', 'text/vtt', 'application/json')
  @ApiOperation({ summary: 'Export a transcription as a file' })
  async export(
    @UuidParam() id: string,
    @Query() query: ExportQuery,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const file = await this.transcriptions.export(id, query.format);
    await reply
      .status(200)
      .headers({
        'content-type': file.contentType,
        'content-disposition': `attachment; filename="${file.filename}"`,
        'cache-control': 'private, no-cache',
      })
      .send(file.body);
  }

  /**
   * `{ "Speaker_0": "Alice" }` → a new version. Engines (transcriptions:write) and the
   * case's leads and members (cases:write) may rename; viewers may not.
   */
  @Patch(':id/speakers')
  @Authenticated({
    permission: 'transcriptions:read',
    anyPermission: ['transcriptions:write', 'cases:write'],
    resource: 'transcription',
    access: 'write',
  })
  @ApiBody({
    schema: {
      type: 'object',
      additionalProperties: { type: 'string', maxLength: 100 },
      example: { Speaker_0: 'Alice', Speaker_1: 'Bob' },
    },
  })
  @ApiOkResponse({ type: TranscriptionResponse })
  @ApiOperation({ summary: "Rename a transcription's speakers" })
  async renameSpeakers(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body(new SpeakerNamesPipe()) names: ReadonlyMap<string, string>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TranscriptionResponse> {
    const created = await this.transcriptions.renameSpeakers(actor, id, names);
    void reply.header('location', `/api/v1/transcriptions/${created.id}`);
    return TranscriptionResponse.from(created);
  }
}
