import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { Participation } from '../core/security/resource-access';
import { ConversationParticipantEntity } from './entities/conversation-participant.entity';
import { ConversationEntity, ConversationStatus } from './entities/conversation.entity';

export interface ConversationListFilter {
  actorId: string;
  seesAll: boolean;
  status?: ConversationStatus;
  caseId?: string;
  offset: number;
  limit: number;
}

export type ConversationChanges = Partial<
  Pick<
    ConversationEntity,
    'name' | 'description' | 'metadata' | 'status' | 'endedAt' | 'sealHash' | 'sealedAt' | 'caseId'
  >
>;

/**
 * Who sees a conversation: its participants, holders of cases:all, and the
 * participants of the (live) case it is linked to. Used by lists, in SQL.
 */
const VISIBLE_TO_ACTOR = `(
  EXISTS (SELECT 1 FROM conversation_participants p WHERE p.conversation_id = c.id AND p.user_id = :actorId)
  OR (c.case_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM case_participants cp JOIN cases k ON k.id = cp.case_id AND k.deleted_at IS NULL
         WHERE cp.case_id = c.case_id AND cp.user_id = :actorId))
)`;

@Injectable()
export class ConversationsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Makes sure the month partition for this conversation's turns exists. */
  async ensurePartition(month: string, manager: EntityManager): Promise<void> {
    await manager.query('SELECT ensure_turn_partition($1::date)', [month]);
  }

  insert(
    values: Pick<
      ConversationEntity,
      | 'name'
      | 'description'
      | 'caseId'
      | 'metadata'
      | 'joinPasswordHash'
      | 'createdBy'
      | 'partitionMonth'
    >,
    manager: EntityManager,
  ): Promise<ConversationEntity> {
    const repository = manager.getRepository(ConversationEntity);
    return repository.save(repository.create(values));
  }

  findLive(id: string, manager?: EntityManager): Promise<ConversationEntity | null> {
    return (
      (manager ?? this.dataSource.manager)
        .getRepository(ConversationEntity)
        .createQueryBuilder('c')
        // Loaded only so responses can say whether the conversation is joinable; never returned.
        .addSelect('c.joinPasswordHash')
        .where(`c.id = :id AND c.status <> 'deleted'`, { id })
        .getOne()
    );
  }

  lockLive(id: string, manager: EntityManager): Promise<ConversationEntity | null> {
    return manager
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .setLock('pessimistic_write')
      .where(`c.id = :id AND c.status <> 'deleted'`, { id })
      .getOne();
  }

  /** An active conversation by name (case-insensitive), with its join password hash. */
  findActiveByNameForJoin(name: string): Promise<ConversationEntity | null> {
    return this.dataSource
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .addSelect('c.joinPasswordHash')
      .where(`lower(c.name) = lower(:name) AND c.status = 'active'`, { name })
      .getOne();
  }

  async activeNameTaken(name: string, manager: EntityManager, exceptId?: string): Promise<boolean> {
    const query = manager
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .where(`lower(c.name) = lower(:name) AND c.status = 'active'`, { name });
    if (exceptId) query.andWhere('c.id <> :exceptId', { exceptId });
    return query.getExists();
  }

  async update(
    id: string,
    changes: ConversationChanges,
    expectedVersion: number | undefined,
    manager: EntityManager,
  ): Promise<ConversationEntity | null> {
    const query = manager
      .getRepository(ConversationEntity)
      .createQueryBuilder()
      .update(ConversationEntity)
      // jsonb metadata is an open object, which TypeORM's deep-partial type cannot express.
      .set({
        ...changes,
        version: () => 'version + 1',
        updatedAt: () => 'now()',
      } as QueryDeepPartialEntity<ConversationEntity>)
      .where(`id = :id AND status <> 'deleted'`, { id });
    if (expectedVersion !== undefined)
      query.andWhere('version = :expectedVersion', { expectedVersion });
    const result = await query.execute();
    if (!result.affected) return null;
    if (changes.status !== undefined || changes.caseId !== undefined) {
      this.invalidation.invalidate(`conversation:${id}`, manager);
    }
    return this.findLive(id, manager);
  }

  list(filter: ConversationListFilter): Promise<[ConversationEntity[], number]> {
    const query = this.dataSource
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .addSelect('c.joinPasswordHash')
      .where(`c.status <> 'deleted'`);
    if (!filter.seesAll) query.andWhere(VISIBLE_TO_ACTOR, { actorId: filter.actorId });
    if (filter.status) query.andWhere('c.status = :status', { status: filter.status });
    if (filter.caseId) query.andWhere('c.caseId = :caseId', { caseId: filter.caseId });
    return query
      .orderBy('c.createdAt', 'DESC')
      .addOrderBy('c.id', 'ASC')
      .offset(filter.offset)
      .limit(filter.limit)
      .getManyAndCount();
  }

  /**
   * The caller's standing on a conversation in one query: `undefined` if it does not
   * exist (or is deleted); else `role` is `member` for participants, the case role for
   * participants of the linked case (`caseId`), `null` otherwise.
   */
  async participation(
    conversationId: string,
    userId: string,
  ): Promise<{ role: Participation | null; caseId: string | null } | undefined> {
    const [row] = await this.dataSource.query<
      { member: boolean; caseRole: Participation | null; caseId: string | null }[]
    >(
      `SELECT EXISTS (SELECT 1 FROM conversation_participants p
                       WHERE p.conversation_id = c.id AND p.user_id = $2) AS member,
              (SELECT cp.role FROM case_participants cp JOIN cases k ON k.id = cp.case_id AND k.deleted_at IS NULL
                WHERE cp.case_id = c.case_id AND cp.user_id = $2) AS "caseRole",
              c.case_id AS "caseId"
         FROM conversations c WHERE c.id = $1 AND c.status <> 'deleted'`,
      [conversationId, userId],
    );
    if (!row) return undefined;
    return { role: row.member ? 'member' : row.caseRole, caseId: row.caseId };
  }

  /** Only the status: what turn ingestion checks on every request. */
  async status(id: string): Promise<ConversationStatus | null> {
    const [row] = await this.dataSource.query<{ status: ConversationStatus }[]>(
      `SELECT status FROM conversations WHERE id = $1 AND status <> 'deleted'`,
      [id],
    );
    return row?.status ?? null;
  }

  async addParticipant(
    participant: Pick<ConversationParticipantEntity, 'conversationId' | 'userId' | 'via'>,
    manager?: EntityManager,
  ): Promise<boolean> {
    const result = await (manager ?? this.dataSource.manager)
      .createQueryBuilder()
      .insert()
      .into(ConversationParticipantEntity)
      .values(participant)
      .orIgnore()
      .execute();
    this.invalidation.invalidate(`conversation:${participant.conversationId}`, manager);
    return (result.raw as unknown[]).length > 0;
  }

  listParticipants(conversationId: string): Promise<ConversationParticipantEntity[]> {
    return this.dataSource
      .getRepository(ConversationParticipantEntity)
      .find({ where: { conversationId }, order: { joinedAt: 'ASC' } });
  }

  countActive(): Promise<number> {
    return this.dataSource.getRepository(ConversationEntity).countBy({ status: 'active' });
  }
}
