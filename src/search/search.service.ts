import { Injectable } from '@nestjs/common';
import { ForbiddenProblem, ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { accessScope } from '../core/access/access-decision';
import { grants, Permission } from '../core/security/permissions';
import { SEARCH_TYPES, SearchQuery, SearchResultResponse, SearchType } from './dto/search.dto';
import { MARK_START, MARK_STOP, SearchRepository, SearchRow } from './search.repository';

/** What each kind of result needs the caller's role to grant. */
const TYPE_PERMISSION: Record<SearchType, Permission> = {
  cases: 'cases:read',
  notes: 'cases:read',
  transcriptions: 'transcriptions:read',
  turns: 'conversations:read',
};

const escapeHtml = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/** ts_headline output → safe HTML: everything escaped, the matches in `<mark>`. */
export function snippetHtml(headline: string): string {
  return escapeHtml(headline.replace(/\s+/g, ' ').trim())
    .split(MARK_START)
    .join('<mark>')
    .split(MARK_STOP)
    .join('</mark>');
}

/**
 * GET /search. Types default to those the caller's role can read; asking for one it
 * cannot is 403. Visibility (participation, cases:all) is applied in SQL by the
 * repository, so a hidden case's text never reaches a ranking, a count or a snippet.
 */
@Injectable()
export class SearchService {
  constructor(private readonly repository: SearchRepository) {}

  async search(
    actor: Actor,
    query: SearchQuery,
  ): Promise<{ results: SearchResultResponse[]; total: number; totalIsEstimate: boolean }> {
    const readable = SEARCH_TYPES.filter((type) => grants(actor.grants, TYPE_PERMISSION[type]));
    const types = query.type ?? readable;
    const refused = types.find((type) => !readable.includes(type));
    if (refused) {
      throw new ForbiddenProblem(
        `Your role does not grant ${TYPE_PERMISSION[refused]}, which searching ${refused} needs.`,
      );
    }
    if (types.length === 0) return { results: [], total: 0, totalIsEstimate: false };
    const { searchable, configs } = await this.repository.prepare(query.q);
    if (!searchable) {
      throw new ValidationProblem([
        {
          field: 'q',
          message: 'q must contain at least one word to search for (not only -excluded words)',
        },
      ]);
    }
    const { rows, total, totalIsEstimate } = await this.repository.search({
      q: query.q,
      types: SEARCH_TYPES.filter((type) => types.includes(type)),
      ...accessScope(actor),
      configs,
      offset: query.offset,
      limit: query.limit,
    });
    return { results: rows.map(toResponse), total, totalIsEstimate };
  }
}

function toResponse(row: SearchRow): SearchResultResponse {
  return {
    type: row.type,
    id: row.id,
    caseId: row.caseId,
    audioFileId: row.audioFileId,
    conversationId: row.conversationId,
    title: row.title,
    snippet: snippetHtml(row.headline),
    rank: row.rank,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
