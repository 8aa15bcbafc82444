import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../core/security/access.decorators';
import { AccessExplainService } from './access-explain.service';
import { AccessExplainQuery, AccessExplainResponse } from './dto/access-explain.dto';

@ApiTags('access')
@ApiBearerAuth()
@Controller('admin/access')
export class AccessExplainController {
  constructor(private readonly explainer: AccessExplainService) {}

  @Get('explain')
  @Authenticated({ anyPermission: ['users:manage', 'audit:read'] })
  @ApiOkResponse({ type: AccessExplainResponse })
  @ApiOperation({
    summary: "Explain the access guard's decision for a user, permission and case",
  })
  explain(@Query() query: AccessExplainQuery): Promise<AccessExplainResponse> {
    return this.explainer.explain(query);
  }
}
