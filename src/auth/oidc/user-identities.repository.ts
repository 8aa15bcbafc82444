import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { UserIdentityEntity } from './user-identity.entity';

@Injectable()
export class UserIdentitiesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(UserIdentityEntity);
  }

  find(issuer: string, subject: string, manager?: EntityManager) {
    return this.repo(manager).findOneBy({ issuer, subject });
  }

  /** Whether the user already has an identity at this issuer (another subject). */
  userHasIssuer(userId: string, issuer: string, manager?: EntityManager): Promise<boolean> {
    return this.repo(manager).existsBy({ userId, issuer });
  }

  async insert(
    identity: Pick<UserIdentityEntity, 'userId' | 'issuer' | 'subject' | 'linkedBy'>,
    manager?: EntityManager,
  ): Promise<void> {
    await this.repo(manager).insert({ ...identity, lastLoginAt: () => 'now()' });
  }

  async touch(id: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id }, { lastLoginAt: () => 'now()' });
  }
}
