import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Page, PageQuery, pageOf } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { AnalysisService, AnalysisView } from './analysis.service';
import { AnalysisResponse, CreateAnalysisDto } from './dto/analysis.dto';

const respond = (view: AnalysisView): AnalysisResponse =>
  AnalysisResponse.from(view.analysis, view.latestTranscriptionVersion);

/** Analyses of one transcription version: posted by analysis engines. */
@ApiTags('analysis')
@ApiBearerAuth()
@Controller('transcriptions')
export class TranscriptionAnalysisController {
  constructor(private readonly analysis: AnalysisService) {}

  @Post(':id/analysis')
  @Authenticated({ permission: 'analysis:write', resource: 'transcription', access: 'read' })
  @ApiCreatedResponse({ type: AnalysisResponse })
  @ApiOperation({ summary: 'Request an analysis of a transcription' })
  async create(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: CreateAnalysisDto,
  ): Promise<AnalysisResponse> {
    return respond(await this.analysis.create(actor, id, dto));
  }

  @Get(':id/analysis')
  @Authenticated({ permission: 'analysis:read', resource: 'transcription' })
  @ApiOperation({ summary: "List a transcription's analyses" })
  async list(@UuidParam() id: string, @Query() query: PageQuery): Promise<Page<AnalysisResponse>> {
    const [views, total] = await this.analysis.listForTranscription(id, query.offset, query.limit);
    return pageOf(views.map(respond), total, query);
  }
}

/** The newest analysis of an audio file, whichever transcription it read. */
@ApiTags('analysis')
@ApiBearerAuth()
@Controller('audio')
export class AudioAnalysisController {
  constructor(private readonly analysis: AnalysisService) {}

  @Get(':id/analysis/latest')
  @Authenticated({ permission: 'analysis:read', resource: 'audio' })
  @ApiOkResponse({ type: AnalysisResponse })
  @ApiOperation({ summary: "Get an audio file's latest analysis" })
  async latest(@UuidParam() id: string): Promise<AnalysisResponse> {
    return respond(await this.analysis.latestForAudio(id));
  }
}
