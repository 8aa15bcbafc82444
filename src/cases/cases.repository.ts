import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import type { AccessScope } from '../core/access/access-decision';
import { visibleCases } from '../core/access/access.predicates';
import { plainSelectList } from '../core/database/plain-select';
import { BITMAP_ONLY, planRows } from '../search/planner';
import { CaseNoteEntity } from './entities/case-note.entity';
import { CaseParticipantEntity, ParticipantRole } from './entities/case-participant.entity';
import { CaseEntity, CasePriority, CaseStatus } from './entities/case.entity';

/** Only cases visible to the scope's actor (`visibleCases`). */
export interface CaseListFilter extends AccessScope {
  status?: CaseStatus;
  priority?: CasePriority;
  participant?: string;
  createdFrom?: Date;
  createdTo?: Date;
  q?: string;
  sort: {
    field: 'createdAt' | 'updatedAt' | 'priority' | 'caseCode' | 'rank';
    descending: boolean;
  };
  offset: number;
  limit: number;
}

/** What other modules may know of a case's hold (and whether it still takes changes). */
export interface CaseHoldState {
  id: string;
  status: CaseStatus;
  legalHoldAt: Date | null;
  legalHoldReason: string | null;
}

export type CaseChanges = Partial<
  Pick<CaseEntity, 'title' | 'description' | 'status' | 'priority' | 'closedAt' | 'deletedAt'>
>;

export interface CaseListPage {
  rows: CaseEntity[];
  /** Exact up to `EXACT_COUNT_LIMIT`; above it the planner's estimate. */
  total: number;
  totalIsEstimate: boolean;
}

const SORT_COLUMNS = {
  createdAt: 'c.created_at',
  updatedAt: 'c.updated_at',
  caseCode: 'c.case_code',
  priority: 'c.priority_weight',
} as const;

/** Matches counted exactly; past this `total` is an estimate (README, "Search"). */
export const EXACT_COUNT_LIMIT = 1_000;
/** Own-text matches ranked by relevance: the newest this many (README, "Search"). */
export const RANKED_CANDIDATES = 300;

/** A page row: the entity's columns, and the own-text match count (rank order only). */
type CaseRow = CaseEntity & { own: number };
/** The relevance page's rows: one without a case when the page is past the own-text tiers. */
type PageRow = Omit<CaseRow, 'id'> & { id: string | null };

/** Positional parameters for hand-written SQL: `add` returns the placeholder. */
class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Whether the tsquery of `q` (a placeholder) holds a phrase operator (`<->`, `<2>`). */
const phraseTest = (q: string): string =>
  `(websearch_to_tsquery('english', ${q})::text ~ '<[0-9-]+>')`;

@Injectable()
export class CasesRepository {
  private findLiveSql: string | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
  ) {}

  private manager(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** `CASE-YYYY-NNNNNN` (the year of `now`) from a database sequence, unique under any concurrency. */
  async nextCaseCode(manager: EntityManager, now: Date): Promise<string> {
    const [row] = await manager.query<{ n: string }[]>(
      `SELECT nextval('case_code_seq')::text AS n`,
    );
    return `CASE-${now.getUTCFullYear()}-${row!.n.padStart(6, '0')}`;
  }

  async caseCodeExists(code: string, manager: EntityManager): Promise<boolean> {
    return manager.getRepository(CaseEntity).existsBy({ caseCode: code });
  }

  insert(
    values: Pick<
      CaseEntity,
      'caseCode' | 'title' | 'description' | 'status' | 'priority' | 'createdBy'
    >,
    manager: EntityManager,
  ): Promise<CaseEntity> {
    const repository = manager.getRepository(CaseEntity);
    return repository.save(repository.create(values));
  }

  /** A live case by id: the read behind GET /cases/:id, as SQL made once (plainSelectList). */
  async findLive(id: string, manager?: EntityManager): Promise<CaseEntity | null> {
    const repository = this.manager(manager).getRepository(CaseEntity);
    this.findLiveSql ??= `SELECT ${plainSelectList(repository)} FROM cases WHERE id = $1 AND deleted_at IS NULL`;
    const [row] = await repository.query<CaseEntity[]>(this.findLiveSql, [id]);
    return row ? repository.create(row) : null;
  }

  /** Locks a live case row for the rest of the transaction. */
  lockLive(id: string, manager: EntityManager): Promise<CaseEntity | null> {
    return manager
      .getRepository(CaseEntity)
      .createQueryBuilder('c')
      .setLock('pessimistic_write')
      .where('c.id = :id AND c.deletedAt IS NULL', { id })
      .getOne();
  }

  /** Applies changes when the row is still at `expectedVersion` (if given); null otherwise. */
  async update(
    id: string,
    changes: CaseChanges,
    expectedVersion: number | undefined,
    manager: EntityManager,
  ): Promise<CaseEntity | null> {
    const query = manager
      .getRepository(CaseEntity)
      .createQueryBuilder()
      .update(CaseEntity)
      .set({ ...changes, version: () => 'version + 1', updatedAt: () => 'now()' })
      .where('id = :id AND deleted_at IS NULL', { id });
    if (expectedVersion !== undefined)
      query.andWhere('version = :expectedVersion', { expectedVersion });
    const result = await query.execute();
    return result.affected ? this.findLive(id, manager) : null;
  }

  /**
   * Visible cases only, filtered, sorted and paginated in SQL. The page and its count
   * run concurrently; the count stops at `EXACT_COUNT_LIMIT` matches, past which
   * `total` is the planner's estimate (`totalIsEstimate`): counting every match of a
   * frequent word or a broad filter read tens of thousands of rows per request.
   */
  async list(filter: CaseListFilter): Promise<CaseListPage> {
    const statements = this.listStatements(filter);
    const [page, counted, phrase] = await Promise.all([
      this.readOnly<PageRow>(statements.pageSql, statements.params),
      this.readOnly<{ n: number }>(
        statements.countSql,
        statements.countParams,
        filter.q ? BITMAP_ONLY : '',
      ),
      filter.q ? this.isPhrase(filter.q) : false,
    ]);
    let rows = page.filter((r): r is CaseRow => r.id !== null);
    const own = page[0]?.own ?? 0;
    const end = filter.offset + filter.limit;
    if (filter.q && filter.sort.field === 'rank' && rows.length < filter.limit && own < end) {
      // The page runs past the own-text matches (tiers 1 and 2) into tier 3.
      const other = this.otherStatement(
        filter,
        phrase,
        filter.limit - rows.length,
        Math.max(0, filter.offset - own),
      );
      rows = [...rows, ...(await this.readOnly<CaseRow>(other.sql, other.params))];
    }
    const exact = counted[0]?.n ?? 0;
    const total = exact > EXACT_COUNT_LIMIT ? await this.estimate(filter, exact) : exact;
    const repository = this.dataSource.getRepository(CaseEntity);
    return {
      rows: rows.map(({ own: _, ...row }) => repository.create(row)),
      total,
      totalIsEstimate: exact > EXACT_COUNT_LIMIT,
    };
  }

  /**
   * Whether `q` parses to a phrase (`"a b"`, or a hyphenated word): transcript lexemes
   * carry no positions, so a phrase can only match a case's own text, and asking the
   * transcript index would only make Postgres recheck (decompress) every case whose
   * transcripts hold all the words — or, in `created_at` order, test every case.
   */
  private async isPhrase(q: string): Promise<boolean> {
    const [row] = await this.dataSource.query<{ phrase: boolean }[]>(
      `SELECT ${phraseTest('$1')} AS phrase`,
      [q],
    );
    return row?.phrase ?? false;
  }

  /**
   * One statement in a read-only transaction without parallel workers (starting them
   * for a 20-row page cost more than it saved on 2 busy cores), plus `settings`: with
   * `q` the count uses only bitmap scans, because under a LIMIT the planner likes an
   * index scan in `created_at` order that tests every row it passes, and testing
   * `transcripts_search` decompresses a wide vector per row (10k rows took 150 ms).
   */
  private readOnly<T>(sql: string, params: unknown[], settings = ''): Promise<T[]> {
    // A list: from a read replica when there is one (SPEC section 12).
    return this.replica.readClient(async (client) => {
      await client.query(
        `BEGIN READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0; ${settings}`,
      );
      const rows = (await client.query(sql, params)).rows as T[];
      await client.query('COMMIT');
      return rows;
    });
  }

  /**
   * The page and count statements; exposed so the benchmarks can run and EXPLAIN
   * exactly them. The page statement returns the cases' columns and, sorted by
   * relevance, `own`: the number of own-text matches it saw (see below).
   *
   * Sorted by relevance (`q` without another sort), the order is in three tiers, so a
   * page never ranks more than `RANKED_CANDIDATES` cases however frequent the word:
   * 1. the newest `RANKED_CANDIDATES` cases whose own text matches (code, title,
   *    description, notes), by `ts_rank` — every own-text match when there are fewer;
   * 2. the older own-text matches, newest first (only a page this deep reads them);
   * 3. cases found only through a transcript or by their exact code, newest first
   *    (their rank is 0, as before): `otherStatement`, run only when a page reaches
   *    past the own-text matches, with the page's remaining limit and its offset.
   * Each tier is read in its own order through an index (or a bitmap and a sort when
   * it is small), and only as far as the page needs.
   */
  listStatements(filter: CaseListFilter): {
    pageSql: string;
    params: unknown[];
    countSql: string;
    countParams: unknown[];
  } {
    const page = new SqlParams();
    const end = filter.offset + filter.limit;
    const where = this.conditions(filter, page).join(' AND ');
    let pageSql: string;
    if (filter.q && filter.sort.field === 'rank') {
      const q = page.add(filter.q);
      const own = `c.search_vector @@ websearch_to_tsquery('english', ${q})`;
      const candidates = page.add(RANKED_CANDIDATES);
      const endParam = page.add(end);
      const tiers = [
        `(SELECT o.id, 1 AS tier, ts_rank(o.search_vector, websearch_to_tsquery('english', ${q})) AS rank, o.created_at
            FROM (SELECT c.id, c.search_vector, c.created_at FROM cases c
                   WHERE ${where} AND ${own}
                   ORDER BY c.created_at DESC, c.id LIMIT ${candidates}) o
           ORDER BY rank DESC, o.created_at DESC, o.id LIMIT ${endParam})`,
      ];
      if (end > RANKED_CANDIDATES) {
        tiers.push(`(SELECT c.id, 2, 0, c.created_at FROM cases c
                      WHERE ${where} AND ${own}
                      ORDER BY c.created_at DESC, c.id OFFSET ${candidates} LIMIT ${endParam})`);
      }
      // One row even when the page is past the own-text matches: it carries their count.
      pageSql = `WITH hits AS (${tiers.join('\nUNION ALL\n')}),
        page AS (SELECT * FROM hits ORDER BY tier, rank DESC, created_at DESC, id
                  LIMIT ${page.add(filter.limit)} OFFSET ${page.add(filter.offset)})
        SELECT ${this.columns()}, n.own
          FROM (SELECT count(*)::int AS own FROM hits) n
          LEFT JOIN (page p JOIN cases c ON c.id = p.id) ON true
         ORDER BY p.tier, p.rank DESC, p.created_at DESC, p.id`;
    } else {
      const match = this.match(filter, page);
      const direction = filter.sort.descending ? 'DESC' : 'ASC';
      const column = SORT_COLUMNS[filter.sort.field === 'rank' ? 'createdAt' : filter.sort.field];
      pageSql = `SELECT ${this.columns()}, 0 AS own FROM cases c WHERE ${where}${match}
                  ORDER BY ${column} ${direction}, c.created_at DESC, c.id
                  LIMIT ${page.add(filter.limit)} OFFSET ${page.add(filter.offset)}`;
    }
    // Without q, newest first: an index read in order (or a bitmap of a few matches)
    // rather than a sequential scan hoping to stop early. With q, the bitmaps (`readOnly`).
    const count = new SqlParams();
    const countSql = `SELECT count(*)::int AS n FROM (
        SELECT 1 FROM cases c WHERE ${this.conditions(filter, count).join(' AND ')}${this.match(filter, count)}
         ${filter.q ? '' : 'ORDER BY c.created_at DESC, c.id'}
         LIMIT ${count.add(EXACT_COUNT_LIMIT + 1)}) capped`;
    return { pageSql, params: page.values, countSql, countParams: count.values };
  }

  /**
   * Tier 3 of the relevance order (see `listStatements`): cases matched only through a
   * transcript or by their exact code, newest first, from `offset` into that tier.
   */
  otherStatement(
    filter: CaseListFilter,
    phrase: boolean,
    limit: number,
    offset: number,
  ): { sql: string; params: unknown[] } {
    const params = new SqlParams();
    const where = this.conditions(filter, params).join(' AND ');
    const q = params.add(filter.q);
    const match = phrase
      ? `c.case_code = upper(${q})`
      : `(c.transcripts_search @@ websearch_to_tsquery('english', ${q}) OR c.case_code = upper(${q}))`;
    const sql = `SELECT ${this.columns()}, 0 AS own FROM cases c
                  WHERE ${where} AND ${match}
                    AND NOT coalesce(c.search_vector @@ websearch_to_tsquery('english', ${q}), false)
                  ORDER BY c.created_at DESC, c.id LIMIT ${params.add(limit)} OFFSET ${params.add(offset)}`;
    return { sql, params: params.values };
  }

  /** The planner's row estimate for every match; at least the `counted` lower bound. */
  private async estimate(filter: CaseListFilter, counted: number): Promise<number> {
    const params = new SqlParams();
    const sql = `SELECT 1 FROM cases c WHERE ${this.conditions(filter, params).join(' AND ')}${this.match(filter, params)}`;
    const [row] = await this.dataSource.query<{ 'QUERY PLAN': unknown }[]>(
      `EXPLAIN (FORMAT JSON) ${sql}`,
      params.values,
    );
    return Math.max(counted, planRows(row?.['QUERY PLAN']));
  }

  /** The entity's selected columns of `cases c`, aliased as its properties. */
  private columns(): string {
    return plainSelectList(this.dataSource.getRepository(CaseEntity), 'c');
  }

  /** Every filter except `q`, as SQL over `cases c` with positional parameters. */
  private conditions(filter: CaseListFilter, params: SqlParams): string[] {
    const where = ['c.deleted_at IS NULL'];
    if (!filter.seesAll) where.push(visibleCases(filter, 'c.id', (actor) => params.add(actor)));
    if (filter.status) where.push(`c.status = ${params.add(filter.status)}`);
    if (filter.priority) where.push(`c.priority = ${params.add(filter.priority)}`);
    if (filter.participant) {
      where.push(
        `EXISTS (SELECT 1 FROM case_participants fp WHERE fp.case_id = c.id AND fp.user_id = ${params.add(filter.participant)})`,
      );
    }
    if (filter.createdFrom) where.push(`c.created_at >= ${params.add(filter.createdFrom)}`);
    if (filter.createdTo) where.push(`c.created_at < ${params.add(filter.createdTo)}`);
    return where;
  }

  /**
   * `q` as one condition (prefixed with AND, empty without `q`): the case's own vector,
   * its transcripts' lexemes (a BitmapOr of the two GIN indexes) or its exact code.
   * A phrase skips the transcripts (see `isPhrase`): the test on the parameter comes
   * first, so no transcript vector is decompressed for it.
   */
  private match(filter: CaseListFilter, params: SqlParams): string {
    if (!filter.q) return '';
    const q = params.add(filter.q);
    return ` AND (c.search_vector @@ websearch_to_tsquery('english', ${q})
               OR (NOT ${phraseTest(q)} AND c.transcripts_search @@ websearch_to_tsquery('english', ${q}))
               OR c.case_code = upper(${q}))`;
  }

  // --- participants -------------------------------------------------------------

  listParticipants(caseId: string): Promise<CaseParticipantEntity[]> {
    return this.dataSource
      .getRepository(CaseParticipantEntity)
      .find({ where: { caseId }, order: { addedAt: 'ASC', userId: 'ASC' } });
  }

  findParticipant(
    caseId: string,
    userId: string,
    manager: EntityManager,
  ): Promise<CaseParticipantEntity | null> {
    return manager.getRepository(CaseParticipantEntity).findOneBy({ caseId, userId });
  }

  addParticipant(
    participant: Pick<CaseParticipantEntity, 'caseId' | 'userId' | 'role' | 'addedBy'>,
    manager: EntityManager,
  ): Promise<CaseParticipantEntity> {
    const repository = manager.getRepository(CaseParticipantEntity);
    return repository.save(repository.create(participant));
  }

  /** Changes a participant's role in place (keeping addedBy and addedAt); the row after. */
  async updateParticipantRole(
    caseId: string,
    userId: string,
    role: ParticipantRole,
    manager: EntityManager,
  ): Promise<CaseParticipantEntity | null> {
    const repository = manager.getRepository(CaseParticipantEntity);
    await repository.update({ caseId, userId }, { role });
    return repository.findOneBy({ caseId, userId });
  }

  async removeParticipant(caseId: string, userId: string, manager: EntityManager): Promise<void> {
    await manager.getRepository(CaseParticipantEntity).delete({ caseId, userId });
  }

  countLeads(caseId: string, manager: EntityManager): Promise<number> {
    return manager.getRepository(CaseParticipantEntity).countBy({ caseId, role: 'lead' });
  }

  // --- notes --------------------------------------------------------------------

  addNote(
    note: Pick<CaseNoteEntity, 'caseId' | 'authorId' | 'body'>,
    manager: EntityManager,
  ): Promise<CaseNoteEntity> {
    const repository = manager.getRepository(CaseNoteEntity);
    return repository.save(repository.create(note));
  }

  listNotes(caseId: string, offset: number, limit: number): Promise<[CaseNoteEntity[], number]> {
    return this.dataSource.getRepository(CaseNoteEntity).findAndCount({
      where: { caseId },
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  // --- legal hold ---------------------------------------------------------------

  /** The case's status and hold, if it is live; locked for the transaction when `lock`. */
  async holdState(
    caseId: string,
    manager?: EntityManager,
    lock = false,
  ): Promise<CaseHoldState | null> {
    const [row] = await this.manager(manager).query<CaseHoldState[]>(
      `SELECT id, status, legal_hold_at AS "legalHoldAt", legal_hold_reason AS "legalHoldReason"
         FROM cases WHERE id = $1 AND deleted_at IS NULL${lock ? ' FOR UPDATE' : ''}`,
      [caseId],
    );
    return row ?? null;
  }

  /** Sets (reason given) or lifts (null) the hold; bumps the case version like any case change. */
  async setLegalHold(
    caseId: string,
    reason: string | null,
    manager: EntityManager,
  ): Promise<CaseHoldState> {
    const [[row]] = await manager.query<[CaseHoldState[], number]>(
      `UPDATE cases
          SET legal_hold_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END,
              legal_hold_reason = $2, version = version + 1, updated_at = now()
        WHERE id = $1
        RETURNING id, status, legal_hold_at AS "legalHoldAt", legal_hold_reason AS "legalHoldReason"`,
      [caseId, reason],
    );
    return row!;
  }
}
