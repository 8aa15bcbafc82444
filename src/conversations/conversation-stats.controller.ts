import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { ConversationStatsService } from './conversation-stats.service';
import {
  ConversationActivityQuery,
  ConversationActivityResponse,
} from './dto/conversation-stats.dto';

@ApiTags('stats')
@ApiBearerAuth()
@Controller('stats')
export class ConversationStatsController {
  constructor(private readonly stats: ConversationStatsService) {}

  @Get('conversations')
  @Authenticated({ permission: 'conversations:read' })
  @ApiOkResponse({ type: ConversationActivityResponse })
  @ApiOperation({
    summary: 'Get hourly turn activity over the visible conversations',
    description:
      'Every UTC hour of the last `hours` (the current one included), oldest first, with totals; persisted turns of the conversations the caller may see, by spokenAt.',
  })
  activity(
    @CurrentActor() actor: Actor,
    @Query() query: ConversationActivityQuery,
  ): Promise<ConversationActivityResponse> {
    return this.stats.activity(actor, query.hours);
  }
}
