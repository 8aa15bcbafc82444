import { Body, Controller, Delete, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ValidationProblem } from '../core/http/problem.exception';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated } from '../core/security/access.decorators';
import { CaseHoldState } from './cases.repository';
import { LegalHoldDto, LegalHoldResponse, LiftHoldReasonDto } from './dto/legal-hold.dto';
import { LegalHoldService } from './legal-hold.service';

const toResponse = (state: CaseHoldState): LegalHoldResponse => ({
  caseId: state.id,
  legalHold: state.legalHoldAt !== null,
  since: state.legalHoldAt?.toISOString() ?? null,
  reason: state.legalHoldReason,
});

/**
 * The reason for lifting: `?reason=` or the JSON body (clients and proxies may drop a
 * DELETE's body). Required; given both ways, the two must agree.
 */
function liftReason(query: LiftHoldReasonDto, body: LiftHoldReasonDto): string {
  const [fromQuery, fromBody] = [query.reason, body.reason];
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw new ValidationProblem([
      { field: 'reason', message: 'reason given in the query and the body differs' },
    ]);
  }
  const reason = fromQuery ?? fromBody;
  if (reason === undefined) {
    throw new ValidationProblem([
      { field: 'reason', message: 'reason is required, as ?reason= or in the JSON body' },
    ]);
  }
  return reason;
}

/** Legal hold on a case's audio (SPEC section 4), for `cases:delete` holders. */
@ApiTags('audio')
@ApiBearerAuth()
@Controller('cases')
export class LegalHoldController {
  constructor(private readonly holds: LegalHoldService) {}

  @Post(':id/hold')
  @ApiOperation({ summary: 'Place a legal hold on a case' })
  @Authenticated({ permission: 'cases:delete', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: LegalHoldResponse })
  async place(@UuidParam() id: string, @Body() dto: LegalHoldDto): Promise<LegalHoldResponse> {
    return toResponse(await this.holds.place(id, dto.reason));
  }

  /** Lifting needs a reason too: `?reason=`, or the JSON body of the DELETE. */
  @Delete(':id/hold')
  @ApiOperation({ summary: "Lift a case's legal hold" })
  @Authenticated({ permission: 'cases:delete', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: LegalHoldResponse })
  @ApiBody({ type: LiftHoldReasonDto, required: false })
  @ApiQuery({
    name: 'reason',
    required: false,
    type: String,
    description:
      'Why the hold is lifted (1-1000 printable characters). Required: give it here or as ' +
      '`reason` in a JSON body; many clients and proxies drop the body of a DELETE.',
  })
  async lift(
    @UuidParam() id: string,
    @Query() query: LiftHoldReasonDto,
    @Body() body: LiftHoldReasonDto,
  ): Promise<LegalHoldResponse> {
    return toResponse(await this.holds.lift(id, liftReason(query, body)));
  }
}
