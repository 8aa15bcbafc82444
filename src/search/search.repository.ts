import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { AccessScope } from '../core/access/access-decision';
import { visibleCases, visibleConversations } from '../core/access/access.predicates';
import { BITMAP_ONLY, planRows } from './planner';
import type { ResultType, SearchType } from './dto/search.dto';

/** Only rows visible to the scope's actor (`visibleCases`, `visibleConversations`). */
export interface SearchFilter extends AccessScope {
  /** Raw user text, only ever bound as a parameter. */
  q: string;
  types: SearchType[];
  /** Text search configurations in use (from `languages`), `simple` included. */
  configs: string[];
  offset: number;
  limit: number;
}

export interface SearchResult {
  rows: SearchRow[];
  /** Exact up to `SEARCH_EXACT_COUNT_LIMIT`; above it the planner's estimate. */
  total: number;
  totalIsEstimate: boolean;
}

/** Matches counted exactly; past this `total` is an estimate (README, "Search"). */
export const SEARCH_EXACT_COUNT_LIMIT = 1_000;
/** Matches of each type ranked for a page (more when the page reaches deeper). */
export const SEARCH_CANDIDATES = 200;

/**
 * Planner settings of the page statement: with a LIMIT per type, a frequent word made a
 * sequential scan of transcriptions look cheap (it tests, decompressing, every row it
 * passes). The count, when needed, runs with bitmap scans only (`BITMAP_ONLY`).
 */
export const PAGE_SETTINGS = 'SET LOCAL enable_seqscan = off';

/** A page row, or the one row without a result that carries the counts past the end. */
type PageRow = Omit<SearchRow, 'id'> & { id: string | null; matched: number; saturated: boolean };

export interface SearchRow {
  type: ResultType;
  id: string;
  caseId: string | null;
  audioFileId: string | null;
  conversationId: string | null;
  title: string;
  /** ts_headline output with U+E000 / U+E001 around the matches. */
  headline: string;
  rank: number;
  createdAt: Date;
}

/** Around the matches in `headline`; never in stored text (stripped before ts_headline). */
export const MARK_START = '\uE000';
export const MARK_STOP = '\uE001';

const HEADLINE_OPTIONS = `StartSel=${MARK_START}, StopSel=${MARK_STOP}, MaxWords=30, MinWords=10, MaxFragments=2, FragmentDelimiter=" … "`;
/** ts_headline reparses the text it is given: long transcripts are cut for the snippet. */
const HEADLINE_MAX_CHARS = 20_000;
const CONFIG_NAME = /^[a-z_]+$/;

/** A prepared statement's name, from its text: the same text is prepared once per connection. */
const statementName = (sql: string): string =>
  `search_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;

/**
 * Full-text search across cases, notes, transcriptions (latest versions) and persisted
 * turns, with visibility applied in SQL. Every match uses a GIN index:
 * `cases.search_vector` (english), `transcriptions.search_vector` (each row in its own
 * language's configuration; the query is parsed once per configuration and each row is
 * matched against its own), and `simple` expression indexes on notes and turns.
 * `q` reaches SQL only as a bound parameter, through websearch_to_tsquery, which accepts
 * any text. Headlines are computed for the returned page only.
 *
 * The statements are long (a branch per type, a CASE per configuration) and planning
 * them took 5-15 ms of a 25 ms budget (`npm run bench:search`), so they run as named
 * prepared statements: each connection plans a statement a few times, then Postgres
 * reuses a generic plan. Everything that varies per request is a parameter.
 */
@Injectable()
export class SearchRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
  ) {}

  /**
   * Whether `q` has at least one term an index can look up (not only punctuation or
   * negations), and the configurations the languages lookup uses.
   */
  async prepare(q: string): Promise<{ searchable: boolean; configs: string[] }> {
    const [row] = await this.run<{ tree: string; configs: string[] }>(
      `SELECT querytree(websearch_to_tsquery('simple', $1)) AS tree,
              ARRAY(SELECT DISTINCT search_config FROM languages) AS configs`,
      [q],
    );
    const configs = new Set(['simple', ...row!.configs.filter((c) => CONFIG_NAME.test(c))]);
    return { searchable: row!.tree !== '' && row!.tree !== 'T', configs: [...configs].sort() };
  }

  /**
   * The ranked page, then the total. Each type contributes at most `SEARCH_CANDIDATES`
   * matches (or as many as the page reaches) to the ranking — the first its GIN bitmap
   * yields — so a word found in tens of thousands of transcripts costs about what one
   * found in a few hundred does (ranking reads each match's vector: ~6,900 transcripts
   * took ~360 ms). When no type filled its candidates the page statement has seen every
   * match and its count is the total; otherwise a second statement counts, stopping at
   * `SEARCH_EXACT_COUNT_LIMIT`, past which `total` is the planner's estimate
   * (`totalIsEstimate`).
   */
  async search(filter: SearchFilter): Promise<SearchResult> {
    const { pageSql, params, countSql, countParams } = this.statements(filter);
    const page = await this.runSerial<PageRow>(pageSql, params, PAGE_SETTINGS);
    const { matched, saturated } = page[0] ?? { matched: 0, saturated: false };
    // Every type yielded fewer than its candidate limit: the page saw every match.
    const counted = saturated
      ? ((await this.runSerial<{ n: number }>(countSql, countParams, BITMAP_ONLY))[0]?.n ?? 0)
      : matched;
    const totalIsEstimate = counted > SEARCH_EXACT_COUNT_LIMIT;
    const total = totalIsEstimate ? await this.estimate(filter, counted) : counted;
    const rows = page
      .filter((r): r is PageRow & SearchRow => r.id !== null)
      .map(({ matched: _m, saturated: _s, ...r }) => ({ ...r, rank: Number(r.rank) }));
    return { rows, total, totalIsEstimate };
  }

  /** The planner's estimate of every visible match; at least the `counted` lower bound. */
  private async estimate(filter: SearchFilter, counted: number): Promise<number> {
    const actor = filter.seesAll ? [] : [filter.actorId];
    const all = filter.types
      .map((type) => this.subquery(type, filter, false, '$2'))
      .join('\nUNION ALL\n');
    const [row] = await this.pool()
      .query<{ 'QUERY PLAN': unknown }>({
        text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM (${all}) hits`,
        values: [filter.q, ...actor],
      })
      .then((r) => r.rows);
    return Math.max(counted, planRows(row?.['QUERY PLAN']));
  }

  /** The page and count statements; exposed so the search benchmark can EXPLAIN exactly them. */
  statements(filter: SearchFilter): {
    pageSql: string;
    params: unknown[];
    countSql: string;
    countParams: unknown[];
  } {
    // $1 is q; the page adds $2 limit, $3 offset and $4 the candidates per type; the
    // actor comes last, and only when visibility is restricted (an unused parameter
    // would have no type).
    const actor = filter.seesAll ? [] : [filter.actorId];
    const ranked = filter.types
      .map((type) => `(${this.subquery(type, filter, true, '$5')} LIMIT $4)`)
      .join('\nUNION ALL\n');
    const counted = filter.types
      .map((type) => this.subquery(type, filter, false, '$3'))
      .join('\nUNION ALL\n');
    const pageSql = `
      WITH hits AS (${ranked}),
      page AS (
        SELECT * FROM hits
         ORDER BY rank DESC, created_at DESC, type, id
         LIMIT $2 OFFSET $3
      )
      SELECT p.type, p.id, p.case_id AS "caseId", p.audio_file_id AS "audioFileId",
             p.conversation_id AS "conversationId", p.rank, p.created_at AS "createdAt",
             d.title, d.headline, n.matched, n.saturated
        FROM (SELECT coalesce(sum(k), 0)::int AS matched, coalesce(bool_or(k >= $4), false) AS saturated
                FROM (SELECT count(*) AS k FROM hits GROUP BY type) per_type) n
        LEFT JOIN (page p CROSS JOIN LATERAL (${this.details(filter)}) d) ON true
       ORDER BY p.rank DESC, p.created_at DESC, p.type, p.id`;
    const countSql = `SELECT count(*)::int AS n FROM (SELECT 1 FROM (${counted}) hits LIMIT $2) capped`;
    const candidates = Math.max(SEARCH_CANDIDATES, filter.offset + filter.limit);
    return {
      pageSql,
      params: [filter.q, filter.limit, filter.offset, candidates, ...actor],
      countSql,
      countParams: [filter.q, SEARCH_EXACT_COUNT_LIMIT + 1, ...actor],
    };
  }

  /** Runs `sql` as a prepared statement named after its text (see the class comment). */
  private async run<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (await this.pool().query({ name: statementName(sql), text: sql, values: params }))
      .rows as T[];
  }

  /**
   * Like `run`, in a read-only transaction without parallel workers: for a few hundred
   * matches, starting workers costs more than it saves (measured 20-60 ms with, 6-17 ms
   * without, on 2 busy cores), and the setting must not leak to other users of the
   * pooled connection. `settings` adds planner settings for this statement only
   * (`PAGE_SETTINGS`, `BITMAP_ONLY`).
   */
  private runSerial<T>(sql: string, params: unknown[], settings: string): Promise<T[]> {
    // Search reads from a read replica when there is one (SPEC section 12).
    return this.replica.readClient(async (client) => {
      await client.query(
        `BEGIN READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0; ${settings}`,
      );
      const result = await client.query({ name: statementName(sql), text: sql, values: params });
      await client.query('COMMIT');
      return result.rows as T[];
    });
  }

  private pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }

  /** `websearch_to_tsquery` of $1 in one configuration (a validated literal). */
  private tsquery(config: string): string {
    if (!CONFIG_NAME.test(config)) throw new Error(`invalid text search configuration ${config}`);
    return `websearch_to_tsquery('${config}'::regconfig, $1)`;
  }

  /** The query in each row's own configuration, as a CASE over the configurations in use. */
  private queryFor(column: string, configs: string[]): string {
    const arms = configs.map((c) => `WHEN '${c}' THEN ${this.tsquery(c)}`).join(' ');
    return `(CASE ${column} ${arms} ELSE ${this.tsquery('simple')} END)`;
  }

  /**
   * Deleted cases and audio are rare: probing the small partial indexes of deleted rows
   * (`cases_deleted_idx`, `audio_files_deleted_idx`) is cheaper than fetching every
   * matched row's case and audio file to read `deleted_at`.
   */
  private caseLive(caseColumn: string): string {
    return `NOT EXISTS (SELECT 1 FROM cases dc WHERE dc.id = ${caseColumn} AND dc.deleted_at IS NOT NULL)`;
  }

  private audioLive(audioColumn: string): string {
    return `NOT EXISTS (SELECT 1 FROM audio_files da WHERE da.id = ${audioColumn} AND da.deleted_at IS NOT NULL)`;
  }

  private caseVisible(caseColumn: string, filter: SearchFilter, actor: string): string {
    return visibleCases(filter, caseColumn, () => actor);
  }

  /** One type's matches: type, id, case_id, audio_file_id, conversation_id, rank, created_at. */
  private subquery(type: SearchType, filter: SearchFilter, ranked: boolean, actor: string): string {
    const select = (columns: string, rank: string) =>
      ranked ? `SELECT ${columns}, ${rank} AS rank` : 'SELECT 1';
    switch (type) {
      case 'cases':
        return `${select(
          `'case'::text AS type, c.id::text AS id, c.id AS case_id, NULL::uuid AS audio_file_id,
           NULL::uuid AS conversation_id, c.created_at`,
          `ts_rank(c.search_vector, ${this.tsquery('english')})`,
        )}
          FROM cases c
         WHERE c.search_vector @@ ${this.tsquery('english')} AND c.deleted_at IS NULL
           AND ${this.caseVisible('c.id', filter, actor)}`;
      case 'transcriptions': {
        const arms = filter.configs
          .map((c) => `(t.search_config = '${c}' AND t.search_vector @@ ${this.tsquery(c)})`)
          .join(' OR ');
        return `${select(
          `'transcription'::text AS type, t.id::text AS id, t.case_id, t.audio_file_id,
           NULL::uuid AS conversation_id, t.created_at`,
          `ts_rank(t.search_vector, ${this.queryFor('t.search_config', filter.configs)})`,
        )}
          FROM transcriptions t
         WHERE t.is_latest AND (${arms})
           AND ${this.caseLive('t.case_id')} AND ${this.audioLive('t.audio_file_id')}
           AND ${this.caseVisible('t.case_id', filter, actor)}`;
      }
      case 'notes':
        return `${select(
          `'note'::text AS type, n.id::text AS id, n.case_id, NULL::uuid AS audio_file_id,
           NULL::uuid AS conversation_id, n.created_at`,
          `ts_rank(to_tsvector('simple'::regconfig, n.body), ${this.tsquery('simple')})`,
        )}
          FROM case_notes n
         WHERE to_tsvector('simple'::regconfig, n.body) @@ ${this.tsquery('simple')}
           AND ${this.caseLive('n.case_id')} AND ${this.caseVisible('n.case_id', filter, actor)}`;
      case 'turns': {
        const text = `to_tsvector('simple'::regconfig, coalesce(tu.cleaned_text, tu.raw_text))`;
        const visible = visibleConversations(filter, 'cv', () => actor);
        return `${select(
          `'turn'::text AS type, tu.id::text AS id, cv.case_id, NULL::uuid AS audio_file_id,
           tu.conversation_id, tu.spoken_at AS created_at`,
          `ts_rank(${text}, ${this.tsquery('simple')})`,
        )}
          FROM turns tu
          JOIN conversations cv ON cv.id = tu.conversation_id AND cv.status <> 'deleted'
         WHERE ${text} @@ ${this.tsquery('simple')}
           AND ${visible}`;
      }
    }
  }

  /** Title and headline of one page row `p`, by its type. */
  private details(filter: SearchFilter): string {
    const strip = (text: string) => `translate(${text}, '${MARK_START}${MARK_STOP}', '')`;
    const headline = (config: string, text: string, query: string) =>
      `ts_headline(${config}, ${strip(text)}, ${query}, '${HEADLINE_OPTIONS}')`;
    const arms: Record<SearchType, string> = {
      cases: `SELECT c.title, ${headline(
        `'english'::regconfig`,
        `c.title || E'\\n' || c.description`,
        this.tsquery('english'),
      )} AS headline FROM cases c WHERE p.type = 'case' AND c.id = p.case_id`,
      transcriptions: `SELECT a.original_name AS title, ${headline(
        't.search_config::regconfig',
        `left(t.content, ${HEADLINE_MAX_CHARS})`,
        this.queryFor('t.search_config', filter.configs),
      )} AS headline
          FROM transcriptions t JOIN audio_files a ON a.id = t.audio_file_id
         WHERE p.type = 'transcription'
           AND t.id = CASE WHEN p.type = 'transcription' THEN p.id::uuid END`,
      notes: `SELECT c.title, ${headline(`'simple'::regconfig`, 'n.body', this.tsquery('simple'))} AS headline
          FROM case_notes n JOIN cases c ON c.id = n.case_id
         WHERE p.type = 'note' AND n.id = CASE WHEN p.type = 'note' THEN p.id::uuid END`,
      turns: `SELECT cv.name AS title, ${headline(
        `'simple'::regconfig`,
        `tu.speaker || ': ' || coalesce(tu.cleaned_text, tu.raw_text)`,
        this.tsquery('simple'),
      )} AS headline
          FROM turns tu JOIN conversations cv ON cv.id = tu.conversation_id
         WHERE p.type = 'turn' AND tu.conversation_id = p.conversation_id
           AND tu.id = CASE WHEN p.type = 'turn' THEN p.id::bigint END`,
    };
    return filter.types.map((type) => arms[type]).join('\nUNION ALL\n');
  }
}
