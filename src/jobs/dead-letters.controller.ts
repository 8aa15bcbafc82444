import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../core/security/access.decorators';
import { DeadLettersService } from './dead-letters.service';
import {
  DeadLetterPage,
  DeadLettersQuery,
  ReplayDeadLettersDto,
  ReplayResponse,
} from './dto/dead-letter.dto';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('admin/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @Get('turns')
  @Authenticated({ permission: 'queues:admin' })
  @ApiOkResponse({ type: DeadLetterPage })
  @ApiOperation({ summary: 'List turns the database refused, oldest first' })
  list(@Query() query: DeadLettersQuery): Promise<DeadLetterPage> {
    return this.deadLetters.list(query.after, query.limit);
  }

  @Post('turns/replay')
  @HttpCode(200)
  @Authenticated({ permission: 'queues:admin' })
  @ApiOkResponse({ type: ReplayResponse })
  @ApiOperation({ summary: 'Put dead-lettered turns back into the persistence buffer' })
  replay(@Body() body: ReplayDeadLettersDto): Promise<ReplayResponse> {
    return this.deadLetters.replay(body.ids, body.limit);
  }
}
