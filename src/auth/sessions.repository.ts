import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { RefreshTokenEntity } from './entities/refresh-token.entity';

/** Refresh tokens grouped in families: one family is one login session. */
@Injectable()
export class SessionsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(RefreshTokenEntity);
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async insert(
    token: Pick<RefreshTokenEntity, 'userId' | 'familyId' | 'tokenHash' | 'expiresAt'> & {
      id: string;
    },
    manager?: EntityManager,
  ): Promise<void> {
    await this.repo(manager).insert(token);
  }

  /** Locks the token row so two concurrent refreshes of it cannot both rotate it. */
  findForRotation(id: string, manager: EntityManager): Promise<RefreshTokenEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('t')
      .setLock('pessimistic_write')
      .where('t.id = :id', { id })
      .getOne();
  }

  findById(id: string): Promise<RefreshTokenEntity | null> {
    return this.repo().findOneBy({ id });
  }

  async markRotated(id: string, manager: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, { rotatedAt: () => 'now()' });
  }

  async revokeFamily(familyId: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update(
      { familyId, revokedAt: IsNull() },
      { revokedAt: () => 'now()' },
    );
    this.invalidation.invalidate(`session:${familyId}`, manager);
  }

  async revokeAllOfUser(userId: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ userId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    this.invalidation.invalidate(`user:${userId}`, manager);
  }
}
