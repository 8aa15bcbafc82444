import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { EstimatedPage, estimatedPageOf } from './dto/estimated-page';
import { SearchQuery, SearchResultResponse } from './dto/search.dto';
import { SearchService } from './search.service';

@ApiTags('search')
@ApiBearerAuth()
@Controller('search')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  /** Full-text search over what the caller may see, best matches first. */
  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Full-text search over what the caller may see' })
  async find(
    @CurrentActor() actor: Actor,
    @Query() query: SearchQuery,
  ): Promise<EstimatedPage<SearchResultResponse>> {
    const { results, total, totalIsEstimate } = await this.search.search(actor, query);
    return estimatedPageOf(results, total, totalIsEstimate, query);
  }
}
