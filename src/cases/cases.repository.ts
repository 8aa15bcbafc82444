import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { plainSelectList } from '../core/database/plain-select';
import { CaseNoteEntity } from './entities/case-note.entity';
import { CaseParticipantEntity, ParticipantRole } from './entities/case-participant.entity';
import { CaseEntity, CasePriority, CaseStatus } from './entities/case.entity';

export interface CaseListFilter {
  /** Only cases this user participates in, unless `seesAll`. */
  actorId: string;
  seesAll: boolean;
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

export type CaseChanges = Partial<
  Pick<CaseEntity, 'title' | 'description' | 'status' | 'priority' | 'closedAt' | 'deletedAt'>
>;

const SORT_COLUMNS = {
  createdAt: 'c.created_at',
  updatedAt: 'c.updated_at',
  caseCode: 'c.case_code',
  priority: 'c.priority_weight',
  rank: 'rank',
} as const;

@Injectable()
export class CasesRepository {
  private findLiveSql: string | undefined;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private manager(manager?: EntityManager): EntityManager {
    return manager ?? this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * The caller's relation to a live case in one query: `undefined` when the case does
   * not exist or is deleted, `null` when it exists but the user does not participate.
   */
  async participation(caseId: string, userId: string): Promise<ParticipantRole | null | undefined> {
    const [row] = await this.dataSource.query<{ role: ParticipantRole | null }[]>(
      `SELECT (SELECT p.role FROM case_participants p WHERE p.case_id = c.id AND p.user_id = $2) AS role
         FROM cases c WHERE c.id = $1 AND c.deleted_at IS NULL`,
      [caseId, userId],
    );
    return row ? row.role : undefined;
  }

  /** `CASE-YYYY-NNNNNN` from a database sequence, unique under any concurrency. */
  async nextCaseCode(manager: EntityManager, now = new Date()): Promise<string> {
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

  /** Visible cases only, filtered, sorted and paginated in SQL. */
  async list(filter: CaseListFilter): Promise<[CaseEntity[], number]> {
    const query = this.listQuery(filter);
    // count(*) over the same WHERE: TypeORM's getCount() would COUNT(DISTINCT id), a sort of every match.
    const count = query
      .clone()
      .orderBy()
      .offset(undefined)
      .limit(undefined)
      .select('count(*)::int', 'n');
    const [rows, total] = await Promise.all([query.getMany(), count.getRawOne<{ n: number }>()]);
    return [rows, total?.n ?? 0];
  }

  /** The list query itself; exposed so the search benchmark can EXPLAIN exactly it. */
  listQuery(filter: CaseListFilter): SelectQueryBuilder<CaseEntity> {
    const query = this.dataSource
      .getRepository(CaseEntity)
      .createQueryBuilder('c')
      .where('c.deletedAt IS NULL');
    if (!filter.seesAll) {
      query.andWhere(
        'EXISTS (SELECT 1 FROM case_participants vp WHERE vp.case_id = c.id AND vp.user_id = :actorId)',
        { actorId: filter.actorId },
      );
    }
    if (filter.status) query.andWhere('c.status = :status', { status: filter.status });
    if (filter.priority) query.andWhere('c.priority = :priority', { priority: filter.priority });
    if (filter.participant) {
      query.andWhere(
        'EXISTS (SELECT 1 FROM case_participants fp WHERE fp.case_id = c.id AND fp.user_id = :participant)',
        { participant: filter.participant },
      );
    }
    if (filter.createdFrom)
      query.andWhere('c.createdAt >= :createdFrom', { createdFrom: filter.createdFrom });
    if (filter.createdTo)
      query.andWhere('c.createdAt < :createdTo', { createdTo: filter.createdTo });
    if (filter.q) {
      query
        .andWhere(
          new Brackets((match) =>
            match
              .where(`c.search_vector @@ websearch_to_tsquery('english', :q)`)
              // Transcripts match too, and rank after the case's own text (their rank is 0).
              .orWhere(`c.transcripts_search @@ websearch_to_tsquery('english', :q)`)
              .orWhere('c.case_code = upper(:q)'),
          ),
          { q: filter.q },
        )
        .addSelect(`ts_rank(c.search_vector, websearch_to_tsquery('english', :q))`, 'rank');
    }
    const direction = filter.sort.descending ? 'DESC' : 'ASC';
    query
      .orderBy(SORT_COLUMNS[filter.sort.field], direction)
      .addOrderBy('c.created_at', 'DESC')
      .addOrderBy('c.id', 'ASC')
      .offset(filter.offset)
      .limit(filter.limit);
    return query;
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
}
