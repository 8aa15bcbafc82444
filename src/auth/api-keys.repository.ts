import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { ApiKeyEntity } from './entities/api-key.entity';

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(ApiKeyEntity);
  }

  create(
    key: Pick<ApiKeyEntity, 'userId' | 'name' | 'prefix' | 'keyHash' | 'expiresAt'>,
    manager?: EntityManager,
  ): Promise<ApiKeyEntity> {
    return this.repo(manager).save(this.repo(manager).create(key));
  }

  listOfUser(userId: string): Promise<ApiKeyEntity[]> {
    return this.repo().find({ where: { userId }, order: { createdAt: 'DESC' } });
  }

  findOfUser(id: string, userId: string): Promise<ApiKeyEntity | null> {
    return this.repo().findOneBy({ id, userId });
  }

  /** Returns whether an active key was revoked. */
  async revoke(id: string, userId: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.repo(manager).update(
      { id, userId, revokedAt: IsNull() },
      { revokedAt: () => 'now()' },
    );
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every active key of a user (a password change); returns how many. */
  async revokeAllOfUser(userId: string, manager?: EntityManager): Promise<number> {
    const result = await this.repo(manager).update(
      { userId, revokedAt: IsNull() },
      { revokedAt: () => 'now()' },
    );
    return result.affected ?? 0;
  }

  /** At most one write a minute per key: authentication stays a read on the hot path. */
  async touch(id: string): Promise<void> {
    await this.repo().query(
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [id],
    );
  }
}
