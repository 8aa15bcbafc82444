import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Authenticated } from '../core/security/access.decorators';

/**
 * Every lookup table, keyed for clients. Modules add theirs to LOOKUP_TABLES as they
 * land (audio statuses, sentiments); the query is one round trip.
 */
const LOOKUP_TABLES: Record<string, string> = {
  caseStatuses: `SELECT code, description, is_active AS "isActive" FROM case_statuses ORDER BY code`,
  casePriorities: `SELECT code, description, weight FROM case_priorities ORDER BY weight DESC`,
  languages: `SELECT code, name, search_config AS "searchConfig" FROM languages ORDER BY code`,
  activityTypes: `SELECT code, description FROM activity_types ORDER BY code`,
  audioStatuses: `SELECT code, description FROM audio_statuses ORDER BY code`,
  sentiments: `SELECT code, description FROM sentiments ORDER BY code`,
};

@ApiTags('lookups')
@ApiBearerAuth()
@Controller('lookups')
export class LookupsController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Get the lookup tables (statuses, priorities, languages, ...)' })
  async all(): Promise<Record<string, unknown[]>> {
    const keys = Object.keys(LOOKUP_TABLES);
    const sql = `SELECT ${keys.map((key) => `(SELECT coalesce(json_agg(t), '[]') FROM (${LOOKUP_TABLES[key]}) t) AS "${key}"`).join(', ')}`;
    const [row] = await this.dataSource.query<Record<string, unknown[]>[]>(sql);
    return row!;
  }
}
