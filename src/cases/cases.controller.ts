import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AuditService } from '../audit/audit.service';
import { AuditEntryResponse } from '../audit/dto/audit.dto';
import { etagOf, IfMatchVersion } from '../core/http/etag';
import {
  CursorPage,
  cursorPageOf,
  CursorQuery,
  Page,
  PageQuery,
  pageOf,
} from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { EstimatedPage, estimatedPageOf } from '../search/dto/estimated-page';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { CasesService } from './cases.service';
import {
  AddNoteDto,
  AddParticipantDto,
  CaseResponse,
  CreateCaseDto,
  ListCasesQuery,
  NoteResponse,
  ParticipantResponse,
  UpdateCaseDto,
  UpdateParticipantDto,
} from './dto/case.dto';
import { CaseEntity } from './entities/case.entity';

function withEtag(reply: FastifyReply, entity: CaseEntity): CaseResponse {
  void reply.header('etag', etagOf(entity.version));
  return CaseResponse.from(entity);
}

@ApiTags('cases')
@ApiBearerAuth()
@Controller('cases')
export class CasesController {
  constructor(
    private readonly cases: CasesService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @Authenticated({ permission: 'cases:read' })
  @ApiOperation({ summary: 'List visible cases' })
  async list(
    @CurrentActor() actor: Actor,
    @Query() query: ListCasesQuery,
  ): Promise<EstimatedPage<CaseResponse>> {
    const { rows, total, totalIsEstimate } = await this.cases.list(actor, query);
    return estimatedPageOf(rows.map(CaseResponse.from), total, totalIsEstimate, query);
  }

  @Post()
  @Authenticated({ permission: 'cases:write' })
  @ApiCreatedResponse({ type: CaseResponse })
  @ApiOperation({ summary: 'Create a case' })
  async create(
    @CurrentActor() actor: Actor,
    @Body() dto: CreateCaseDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CaseResponse> {
    const created = await this.cases.create(actor, dto);
    void reply.header('location', `/api/v1/cases/${created.id}`);
    return withEtag(reply, created);
  }

  @Get(':id')
  @Authenticated({ permission: 'cases:read', resource: 'case' })
  @ApiOkResponse({ type: CaseResponse })
  @ApiOperation({ summary: 'Get a case' })
  async get(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CaseResponse> {
    return withEtag(reply, await this.cases.get(id));
  }

  @Patch(':id')
  @Authenticated({ permission: 'cases:write', resource: 'case' })
  @ApiOkResponse({ type: CaseResponse })
  @ApiOperation({ summary: 'Update a case' })
  async update(
    @UuidParam() id: string,
    @Body() dto: UpdateCaseDto,
    @IfMatchVersion() version: number | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CaseResponse> {
    return withEtag(reply, await this.cases.update(id, dto, version));
  }

  @Post(':id/close')
  @Authenticated({ permission: 'cases:write', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: CaseResponse })
  @ApiOperation({ summary: 'Close a case' })
  async close(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CaseResponse> {
    return withEtag(reply, await this.cases.close(id));
  }

  @Post(':id/reopen')
  @Authenticated({ permission: 'cases:write', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: CaseResponse })
  @ApiOperation({ summary: 'Reopen a closed case' })
  async reopen(
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CaseResponse> {
    return withEtag(reply, await this.cases.reopen(id));
  }

  @Delete(':id')
  @Authenticated({ permission: 'cases:delete', resource: 'case' })
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a case' })
  delete(@UuidParam() id: string): Promise<void> {
    return this.cases.delete(id);
  }

  @Get(':id/participants')
  @Authenticated({ permission: 'cases:read', resource: 'case' })
  @ApiOperation({ summary: "List a case's participants" })
  async participants(@UuidParam() id: string): Promise<{ data: ParticipantResponse[] }> {
    return { data: (await this.cases.listParticipants(id)).map(ParticipantResponse.from) };
  }

  @Post(':id/participants')
  @Authenticated({ permission: 'cases:write', resource: 'case', access: 'manage' })
  @ApiCreatedResponse({ type: ParticipantResponse })
  @ApiOperation({ summary: 'Add a participant to a case' })
  async addParticipant(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: AddParticipantDto,
  ): Promise<ParticipantResponse> {
    return ParticipantResponse.from(await this.cases.addParticipant(actor, id, dto));
  }

  /** Changes a participant's role in place (history kept); audited. */
  @Patch(':id/participants/:userId')
  @Authenticated({ permission: 'cases:write', resource: 'case', access: 'manage' })
  @ApiOperation({ summary: "Change a participant's role" })
  @ApiOkResponse({ type: ParticipantResponse })
  async changeParticipantRole(
    @UuidParam() id: string,
    @UuidParam('userId') userId: string,
    @Body() dto: UpdateParticipantDto,
  ): Promise<ParticipantResponse> {
    return ParticipantResponse.from(await this.cases.changeParticipantRole(id, userId, dto));
  }

  @Delete(':id/participants/:userId')
  @Authenticated({ permission: 'cases:write', resource: 'case', access: 'manage' })
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a participant from a case' })
  removeParticipant(@UuidParam() id: string, @UuidParam('userId') userId: string): Promise<void> {
    return this.cases.removeParticipant(id, userId);
  }

  @Get(':id/notes')
  @Authenticated({ permission: 'cases:read', resource: 'case' })
  @ApiOperation({ summary: "List a case's notes" })
  async notes(@UuidParam() id: string, @Query() query: PageQuery): Promise<Page<NoteResponse>> {
    const [notes, total] = await this.cases.listNotes(id, query.offset, query.limit);
    return pageOf(notes.map(NoteResponse.from), total, query);
  }

  @Post(':id/notes')
  @Authenticated({ permission: 'cases:write', resource: 'case' })
  @ApiCreatedResponse({ type: NoteResponse })
  @ApiOperation({ summary: 'Add a note to a case' })
  async addNote(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Body() dto: AddNoteDto,
  ): Promise<NoteResponse> {
    return NoteResponse.from(await this.cases.addNote(actor, id, dto));
  }

  /** The audit entries of this case, oldest first; callers' addresses only with audit:read. */
  @Get(':id/activity')
  @Authenticated({ permission: 'cases:read', resource: 'case' })
  @ApiOperation({ summary: "List a case's activity" })
  async activity(
    @CurrentActor() actor: Actor,
    @UuidParam() id: string,
    @Query() query: CursorQuery,
  ): Promise<CursorPage<AuditEntryResponse>> {
    const rows = await this.audit.list({ caseId: id, after: query.after }, query.limit);
    const view = grants(actor.grants, 'audit:read')
      ? AuditEntryResponse.from
      : AuditEntryResponse.withoutClientDetails;
    return cursorPageOf(
      rows.map((row) => view(row)),
      query.limit,
    );
  }
}
