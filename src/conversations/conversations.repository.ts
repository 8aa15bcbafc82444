import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReplicaReads } from '../core/database/replica-reads';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import type { AccessScope } from '../core/access/access-decision';
import { visibleConversations } from '../core/access/access.predicates';
import {
  ConversationParticipantEntity,
  ConversationRole,
} from './entities/conversation-participant.entity';
import { ConversationEntity, ConversationStatus } from './entities/conversation.entity';

/** Only conversations visible to the scope's actor (`visibleConversations`). */
export interface ConversationListFilter extends AccessScope {
  status?: ConversationStatus;
  caseId?: string;
  offset: number;
  limit: number;
}

export type ConversationChanges = Partial<
  Pick<
    ConversationEntity,
    | 'name'
    | 'description'
    | 'metadata'
    | 'status'
    | 'endedAt'
    | 'endedReason'
    | 'sealHash'
    | 'sealedAt'
    | 'caseId'
    | 'joinPasswordHash'
  >
>;

@Injectable()
export class ConversationsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invalidation: CacheInvalidation,
    private readonly replica: ReplicaReads,
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

  /** From a read replica if any (SPEC section 12). */
  list(filter: ConversationListFilter): Promise<[ConversationEntity[], number]> {
    return this.replica.read((manager) => this.listOn(manager, filter));
  }

  private listOn(
    manager: EntityManager,
    filter: ConversationListFilter,
  ): Promise<[ConversationEntity[], number]> {
    const query = manager
      .getRepository(ConversationEntity)
      .createQueryBuilder('c')
      .addSelect('c.joinPasswordHash')
      .where(`c.status <> 'deleted'`);
    if (!filter.seesAll) {
      query.andWhere(
        visibleConversations(filter, 'c', () => ':actorId'),
        { actorId: filter.actorId },
      );
    }
    if (filter.status) query.andWhere('c.status = :status', { status: filter.status });
    if (filter.caseId) query.andWhere('c.caseId = :caseId', { caseId: filter.caseId });
    return query
      .orderBy('c.createdAt', 'DESC')
      .addOrderBy('c.id', 'ASC')
      .offset(filter.offset)
      .limit(filter.limit)
      .getManyAndCount();
  }

  /** Only the status: what turn ingestion checks on every request. */
  async status(id: string): Promise<ConversationStatus | null> {
    const [row] = await this.dataSource.query<{ status: ConversationStatus }[]>(
      `SELECT status FROM conversations WHERE id = $1 AND status <> 'deleted'`,
      [id],
    );
    return row?.status ?? null;
  }

  /** Adds the participant unless they already take part (their role is then kept). */
  async addParticipant(
    participant: Pick<ConversationParticipantEntity, 'conversationId' | 'userId' | 'via' | 'role'>,
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

  /** The user ids taking part in a conversation, read in the caller's transaction. */
  async participantIds(conversationId: string, manager: EntityManager): Promise<string[]> {
    const rows = await manager
      .getRepository(ConversationParticipantEntity)
      .find({ select: { userId: true }, where: { conversationId } });
    return rows.map((row) => row.userId);
  }

  listParticipants(conversationId: string): Promise<ConversationParticipantEntity[]> {
    return this.dataSource
      .getRepository(ConversationParticipantEntity)
      .find({ where: { conversationId }, order: { joinedAt: 'ASC', userId: 'ASC' } });
  }

  findParticipant(
    conversationId: string,
    userId: string,
    manager: EntityManager,
  ): Promise<ConversationParticipantEntity | null> {
    return manager
      .getRepository(ConversationParticipantEntity)
      .findOneBy({ conversationId, userId });
  }

  /** Changes the role in place (keeping via and joinedAt); the row after. */
  async updateParticipantRole(
    conversationId: string,
    userId: string,
    role: ConversationRole,
    manager: EntityManager,
  ): Promise<ConversationParticipantEntity | null> {
    const repository = manager.getRepository(ConversationParticipantEntity);
    await repository.update({ conversationId, userId }, { role });
    this.invalidation.invalidate(`conversation:${conversationId}`, manager);
    return repository.findOneBy({ conversationId, userId });
  }

  async removeParticipant(
    conversationId: string,
    userId: string,
    manager: EntityManager,
  ): Promise<void> {
    await manager.getRepository(ConversationParticipantEntity).delete({ conversationId, userId });
    this.invalidation.invalidate(`conversation:${conversationId}`, manager);
  }

  countOwners(conversationId: string, manager: EntityManager): Promise<number> {
    return manager
      .getRepository(ConversationParticipantEntity)
      .countBy({ conversationId, role: 'owner' });
  }

  /**
   * Active conversations whose last turn (or, without turns, whose start) is older than
   * `cutoff`, oldest first, at most `limit`: what the idle sweep ends.
   */
  async idleSince(cutoff: Date, limit: number): Promise<string[]> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM conversations
        WHERE status = 'active' AND coalesce(last_activity_at, created_at) < $1
        ORDER BY coalesce(last_activity_at, created_at), id
        LIMIT $2`,
      [cutoff, limit],
    );
    return rows.map((row) => row.id);
  }

  countActive(): Promise<number> {
    return this.dataSource.getRepository(ConversationEntity).countBy({ status: 'active' });
  }
}
