import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { JobResponse } from './dto/job.dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  /** A background job's state; visible to whoever requested it and to `queues:admin`. */
  @Get(':id')
  @Authenticated()
  @ApiOkResponse({ type: JobResponse })
  @ApiOperation({ summary: "Get a background job's state" })
  get(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<JobResponse> {
    return this.jobs.get(actor, id);
  }
}
