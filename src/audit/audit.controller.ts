import { Controller, Get, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Clock } from '../core/clock/clock';
import { csvOf } from '../core/http/csv';
import { CursorPage, cursorPageOf, CursorQuery } from '../core/http/pagination';
import { ValidationProblem } from '../core/http/problem.exception';
import { AuditCheckpointsService } from './audit-checkpoints.service';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { AuditService } from './audit.service';
import {
  AuditCheckpointResponse,
  AuditEntryResponse,
  AuditQuery,
  AuditVerifyQuery,
  AuditVerifyResponse,
  MyUsageQuery,
  UsageListResponse,
  UsageQuery,
  UsageResponse,
  UserUsageResponse,
} from './dto/audit.dto';
import { UsageStatisticEntity } from './entities/usage-statistic.entity';
import { UsageService } from './usage.service';

const USAGE_COLUMNS = [
  'userId',
  'username',
  'month',
  'filesUploaded',
  'bytesUploaded',
  'audioSeconds',
  'transcriptions',
  'jobsSucceeded',
  'jobsFailed',
  'turnsIngested',
] as const;

/** A month's counters of one user; zeros for a user without a row that month. */
function usageOf(userId: string, month: string, row: UsageStatisticEntity | null): UsageResponse {
  return {
    userId,
    month,
    filesUploaded: row?.filesUploaded ?? 0,
    bytesUploaded: Number(row?.bytesUploaded ?? 0),
    audioSeconds: row?.audioSeconds ?? 0,
    transcriptions: row?.transcriptions ?? 0,
    jobsSucceeded: row?.jobsSucceeded ?? 0,
    jobsFailed: row?.jobsFailed ?? 0,
    turnsIngested: Number(row?.turnsIngested ?? 0),
  };
}

@ApiTags('audit')
@ApiBearerAuth()
@Controller()
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly usage: UsageService,
    private readonly checkpointsService: AuditCheckpointsService,
    private readonly clock: Clock,
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
  @ApiExtraModels(UsageResponse, UsageListResponse)
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({
    description:
      "With userId: that user's month; without: every user's row of the month (users with " +
      'any usage, by username). `format=csv`: the same as RFC 4180 CSV with a header row.',
    schema: {
      oneOf: [{ $ref: getSchemaPath(UsageResponse) }, { $ref: getSchemaPath(UsageListResponse) }],
    },
  })
  @ApiOperation({ summary: "A user's or every user's usage in a month (JSON or CSV)" })
  async usageOfMonth(
    @Query() query: UsageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UsageResponse | UsageListResponse | string> {
    const month = `${query.month}-01`;
    let rows: UserUsageResponse[];
    if (query.userId) {
      const one = usageOf(query.userId, query.month, await this.usage.find(query.userId, month));
      if (query.format !== 'csv') return one;
      rows = [{ ...one, username: await this.usage.usernameOf(query.userId) }];
    } else {
      rows = (await this.usage.listMonth(month)).map((row) => ({
        ...usageOf(row.userId, query.month, row),
        username: row.username,
      }));
      if (query.format !== 'csv') {
        return { data: rows, meta: { month: query.month, total: rows.length } };
      }
    }
    void reply.headers({
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="usage-${query.month}.csv"`,
      'cache-control': 'private, no-cache',
    });
    return csvOf(
      USAGE_COLUMNS,
      rows.map((row) => USAGE_COLUMNS.map((column) => row[column])),
    );
  }

  @Get('me/usage')
  @Authenticated()
  @ApiOkResponse({ type: UsageResponse })
  @ApiOperation({ summary: "The caller's usage in a month (default: this month)" })
  async myUsage(
    @CurrentActor() actor: Actor,
    @Query() query: MyUsageQuery,
  ): Promise<UsageResponse> {
    const month = query.month ?? this.clock.now().toISOString().slice(0, 7);
    return usageOf(actor.userId, month, await this.usage.find(actor.userId, `${month}-01`));
  }
}
