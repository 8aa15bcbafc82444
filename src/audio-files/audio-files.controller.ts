import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Page, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { AudioErrorCode, AudioException } from './audio-files.exception';
import { AudioFilesService } from './audio-files.service';
import { AudioJobsService } from './audio-jobs.service';
import { AudioProcessingService } from './audio-processing.service';
import { AudioTransferService } from './audio-transfer.service';
import {
  ArchiveAudioDto,
  AudioFileResponse,
  AudioProgressDto,
  FailAudioDto,
  JobAcceptedResponse,
  ListAudioQuery,
  ListCaseAudioQuery,
  UploadAudioForm,
} from './dto/audio-file.dto';

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Audio of one case: upload and list. */
@ApiTags('audio')
@ApiBearerAuth()
@Controller('cases')
export class CaseAudioController {
  constructor(
    private readonly files: AudioFilesService,
    private readonly transfer: AudioTransferService,
  ) {}

  @Post(':id/audio')
  @Authenticated({ permission: 'audio:upload', resource: 'case' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadAudioForm })
  @ApiCreatedResponse({ type: AudioFileResponse })
  @ApiOperation({ summary: 'Upload an audio file to a case (multipart)' })
  async upload(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AudioFileResponse> {
    if (!request.isMultipart()) {
      throw new AudioException(AudioErrorCode.UnsupportedMediaType, {
        detail: 'Upload the file as multipart/form-data with a part named "file".',
      });
    }
    const length = Number(header(request, 'content-length'));
    const created = await this.transfer.upload(
      actor,
      id,
      request.parts(),
      Number.isFinite(length) ? length : undefined,
    );
    void reply.header('location', `/api/v1/audio/${created.id}`);
    return AudioFileResponse.from(created);
  }

  @Get(':id/audio')
  @Authenticated({ permission: 'audio:read', resource: 'case' })
  @ApiOperation({ summary: "List a case's audio files" })
  async list(
    @UuidParam() id: string,
    @Query() query: ListCaseAudioQuery,
  ): Promise<Page<AudioFileResponse>> {
    const [rows, total] = await this.files.listForCase(id, query);
    return pageOf(rows.map(AudioFileResponse.from), total, query);
  }
}

/** One audio file: metadata, content, processing claims and background operations. */
@ApiTags('audio')
@ApiBearerAuth()
@Controller('audio')
export class AudioFilesController {
  constructor(
    private readonly files: AudioFilesService,
    private readonly transfer: AudioTransferService,
    private readonly processing: AudioProcessingService,
    private readonly jobs: AudioJobsService,
  ) {}

  /** Audio across every case the caller may see: how processing engines find work. */
  @Get()
  @Authenticated({ permission: 'audio:read' })
  @ApiOperation({ summary: 'List visible audio files' })
  async list(
    @CurrentActor() actor: Actor,
    @Query() query: ListAudioQuery,
  ): Promise<Page<AudioFileResponse>> {
    const [rows, total] = await this.files.list(actor, query);
    return pageOf(rows.map(AudioFileResponse.from), total, query);
  }

  @Get(':id')
  @Authenticated({ permission: 'audio:read', resource: 'audio' })
  @ApiOkResponse({ type: AudioFileResponse })
  @ApiOperation({ summary: "Get an audio file's metadata" })
  async get(@UuidParam() id: string): Promise<AudioFileResponse> {
    return AudioFileResponse.from(await this.files.get(id));
  }

  @Get(':id/content')
  @Authenticated({ permission: 'audio:read', resource: 'audio' })
  @ApiProduces('audio/*')
  @ApiOperation({ summary: "Download an audio file's content" })
  async content(
    @UuidParam() id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const response = await this.transfer.download(id, {
      range: header(request, 'range'),
      ifNoneMatch: header(request, 'if-none-match'),
      ifRange: header(request, 'if-range'),
    });
    await reply.status(response.status).headers(response.headers).send(response.body);
  }

  @Post(':id/claim')
  @Authenticated({ permission: 'transcriptions:write', resource: 'audio', access: 'read' })
  @HttpCode(200)
  @ApiOkResponse({ type: AudioFileResponse })
  @ApiOperation({ summary: 'Claim an audio file for processing' })
  async claim(@CurrentActor() actor: Actor, @UuidParam() id: string): Promise<AudioFileResponse> {
    return AudioFileResponse.from(await this.processing.claim(actor, id));
  }

  @Post(':id/progress')
  @Authenticated({ permission: 'transcriptions:write', resource: 'audio', access: 'read' })
  @HttpCode(200)
  @ApiOkResponse({ type: AudioFileResponse })
  @ApiOperation({
    summary: 'Report processing progress (claimant only); renews the claim',
  })
  async progress(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: AudioProgressDto,
  ): Promise<AudioFileResponse> {
    return AudioFileResponse.from(
      await this.processing.reportProgress(actor, id, {
        percent: dto.percent,
        stage: dto.stage ?? null,
      }),
    );
  }

  @Post(':id/fail')
  @Authenticated({ permission: 'transcriptions:write', resource: 'audio', access: 'read' })
  @HttpCode(200)
  @ApiOkResponse({ type: AudioFileResponse })
  @ApiOperation({ summary: 'Report failed processing of an audio file' })
  async fail(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: FailAudioDto,
  ): Promise<AudioFileResponse> {
    return AudioFileResponse.from(await this.processing.fail(actor, id, dto.error));
  }

  @Post(':id/requeue')
  @Authenticated({ permission: 'audio:upload', resource: 'audio' })
  @HttpCode(200)
  @ApiOkResponse({ type: AudioFileResponse })
  @ApiOperation({ summary: 'Requeue an audio file for processing' })
  async requeue(@UuidParam() id: string): Promise<AudioFileResponse> {
    return AudioFileResponse.from(await this.processing.requeue(id));
  }

  @Post(':id/archive')
  @Authenticated({ permission: 'audio:archive', resource: 'audio' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: JobAcceptedResponse })
  @ApiOperation({ summary: 'Archive an audio file' })
  async archive(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: ArchiveAudioDto,
  ): Promise<JobAcceptedResponse> {
    return { jobId: await this.jobs.requestArchive(actor, id, dto.reason) };
  }

  @Post(':id/restore')
  @Authenticated({ permission: 'audio:archive', resource: 'audio' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: JobAcceptedResponse })
  @ApiOperation({ summary: 'Restore an archived audio file' })
  async restore(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
  ): Promise<JobAcceptedResponse> {
    return { jobId: await this.jobs.requestRestore(actor, id) };
  }

  @Delete(':id')
  @Authenticated({ permission: 'audio:delete', resource: 'audio' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: JobAcceptedResponse })
  @ApiOperation({ summary: 'Delete an audio file' })
  async delete(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
  ): Promise<JobAcceptedResponse> {
    return { jobId: await this.jobs.requestDelete(actor, id) };
  }

  @Post(':id/verify')
  @Authenticated({ permission: 'audio:read', resource: 'audio', access: 'read' })
  @HttpCode(202)
  @ApiAcceptedResponse({ type: JobAcceptedResponse })
  @ApiOperation({ summary: "Verify an audio file's stored content (background job)" })
  async verify(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
  ): Promise<JobAcceptedResponse> {
    return { jobId: await this.jobs.requestVerify(actor, id) };
  }
}
