import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../core/security/access.decorators';
import { SystemStats, SystemStatsService } from './system-stats.service';

@ApiTags('stats')
@ApiBearerAuth()
@Controller('stats')
export class SystemStatsController {
  constructor(private readonly stats: SystemStatsService) {}

  /** Row counts, active conversations, queue depths and the turn buffer's lag. */
  @Get('system')
  @Authenticated({ permission: 'stats:read' })
  @ApiOperation({ summary: 'Get row counts, queue depths and turn-buffer lag' })
  system(): Promise<SystemStats> {
    return this.stats.collect();
  }
}
