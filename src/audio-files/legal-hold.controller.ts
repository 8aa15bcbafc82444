import { Body, Controller, Delete, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated } from '../core/security/access.decorators';
import { CaseHoldState } from './audio-files.repository';
import { LegalHoldDto, LegalHoldResponse } from './dto/audio-file.dto';
import { LegalHoldService } from './legal-hold.service';

const toResponse = (state: CaseHoldState): LegalHoldResponse => ({
  caseId: state.id,
  legalHold: state.legalHoldAt !== null,
  since: state.legalHoldAt?.toISOString() ?? null,
  reason: state.legalHoldReason,
});

/** Legal hold on a case's audio (SPEC section 4), for `cases:delete` holders. */
@ApiTags('audio')
@ApiBearerAuth()
@Controller('cases')
export class LegalHoldController {
  constructor(private readonly holds: LegalHoldService) {}

  @Post(':id/hold')
  @Authenticated({ permission: 'cases:delete', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: LegalHoldResponse })
  @ApiOperation({ summary: 'Place a legal hold on a case' })
  async place(@UuidParam() id: string, @Body() dto: LegalHoldDto): Promise<LegalHoldResponse> {
    return toResponse(await this.holds.place(id, dto.reason));
  }

  /** Lifting needs a reason too, sent as the JSON body of the DELETE. */
  @Delete(':id/hold')
  @Authenticated({ permission: 'cases:delete', resource: 'case' })
  @HttpCode(200)
  @ApiOkResponse({ type: LegalHoldResponse })
  @ApiOperation({ summary: "Lift a case's legal hold" })
  async lift(@UuidParam() id: string, @Body() dto: LegalHoldDto): Promise<LegalHoldResponse> {
    return toResponse(await this.holds.lift(id, dto.reason));
  }
}
