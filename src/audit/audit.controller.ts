import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CursorPage, cursorPageOf, CursorQuery } from '../core/http/pagination';
import { ValidationProblem } from '../core/http/problem.exception';
import { AuditCheckpointsService } from './audit-checkpoints.service';
import { Authenticated } from '../core/security/access.decorators';
import { AuditService } from './audit.service';
import {
  AuditCheckpointResponse,
  AuditEntryResponse,
  AuditQuery,
  AuditVerifyQuery,
  AuditVerifyResponse,
  UsageQuery,
  UsageResponse,
} from './dto/audit.dto';
import { UsageService } from './usage.service';

@ApiTags('audit')
@ApiBearerAuth()
@Controller()
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly usage: UsageService,
    private readonly checkpointsService: AuditCheckpointsService,
  ) {}

  @Get('audit')
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({ summary: 'List audit entries' })
  async list(@Query() query: AuditQuery): Promise<CursorPage<AuditEntryResponse>> {
    const rows = await this.audit.list(
      {
        ...query,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
      },
      query.limit,
    );
    return cursorPageOf(rows.map(AuditEntryResponse.from), query.limit);
  }

  @Get('audit/verify')
  @Authenticated({ permission: 'audit:read' })
  @ApiOkResponse({ type: AuditVerifyResponse })
  @ApiOperation({ summary: 'Verify the audit hash chain' })
  verify(@Query() query: AuditVerifyQuery): Promise<AuditVerifyResponse> {
    if (query.fromCheckpoint !== undefined && query.from !== undefined) {
      throw new ValidationProblem([
        { field: 'fromCheckpoint', message: 'fromCheckpoint and from cannot be combined' },
      ]);
    }
    return this.audit.verify({
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      fromCheckpoint: query.fromCheckpoint,
    });
  }

  @Get('audit/checkpoints')
  @Authenticated({ permission: 'audit:read' })
  @ApiOperation({ summary: 'List signed audit checkpoints, oldest first' })
  async checkpoints(@Query() query: CursorQuery): Promise<CursorPage<AuditCheckpointResponse>> {
    const rows = await this.checkpointsService.list(query.after, query.limit);
    return cursorPageOf(rows.map(AuditCheckpointResponse.from), query.limit);
  }

  @Get('stats/usage')
  @Authenticated({ permission: 'stats:read' })
  @ApiOkResponse({ type: UsageResponse })
  @ApiOperation({ summary: "Get a user's usage in a month" })
  async usageOf(@Query() query: UsageQuery): Promise<UsageResponse> {
    const row = await this.usage.find(query.userId, `${query.month}-01`);
    return {
      userId: query.userId,
      month: query.month,
      filesUploaded: row?.filesUploaded ?? 0,
      bytesUploaded: Number(row?.bytesUploaded ?? 0),
      audioSeconds: row?.audioSeconds ?? 0,
      transcriptions: row?.transcriptions ?? 0,
      jobsSucceeded: row?.jobsSucceeded ?? 0,
      jobsFailed: row?.jobsFailed ?? 0,
      turnsIngested: Number(row?.turnsIngested ?? 0),
    };
  }
}
