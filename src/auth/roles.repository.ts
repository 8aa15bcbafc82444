import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { DataSource, EntityManager } from 'typeorm';
import { RoleEntity } from './entities/role.entity';

/** Serialises hierarchy changes so two concurrent edits cannot close a cycle together. */
const ROLE_HIERARCHY_LOCK = 7_314_159_266;

export type RoleChanges = Partial<Pick<RoleEntity, 'description' | 'permissions' | 'parentRole'>>;

@Injectable()
export class RolesRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(RoleEntity);
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [ROLE_HIERARCHY_LOCK]);
      // Any role change may change every principal's grants (applied after the commit).
      this.invalidation.invalidate('*', manager);
      return work(manager);
    });
  }

  findById(id: string, manager?: EntityManager): Promise<RoleEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  findByName(name: string, manager?: EntityManager): Promise<RoleEntity | null> {
    return this.repo(manager).findOneBy({ name });
  }

  list(offset: number, limit: number): Promise<[RoleEntity[], number]> {
    return this.repo().findAndCount({ order: { name: 'ASC' }, skip: offset, take: limit });
  }

  /** Names of `name` and all its ancestors, nearest first. */
  async lineage(name: string, manager?: EntityManager): Promise<string[]> {
    const rows = await (manager ?? this.dataSource.manager).query<{ name: string }[]>(
      `WITH RECURSIVE chain(name, parent_role, depth) AS (
         SELECT name, parent_role, 1 FROM roles WHERE name = $1
         UNION ALL
         SELECT r.name, r.parent_role, c.depth + 1 FROM roles r JOIN chain c ON r.name = c.parent_role
          WHERE c.depth < 64
       ) SELECT name FROM chain ORDER BY depth`,
      [name],
    );
    return rows.map((r) => r.name);
  }

  /** Every grant of the role and its ancestors. */
  async effectiveGrants(name: string): Promise<string[]> {
    const rows = await this.dataSource.query<{ grant: string }[]>(
      `SELECT DISTINCT g AS grant FROM roles r, jsonb_array_elements_text(r.permissions) g
        WHERE r.name = ANY($1::text[])`,
      [await this.lineage(name)],
    );
    return rows.map((r) => r.grant);
  }

  create(
    role: Pick<RoleEntity, 'name' | 'description' | 'permissions' | 'parentRole'>,
    manager: EntityManager,
  ): Promise<RoleEntity> {
    return this.repo(manager).save(this.repo(manager).create({ ...role, isBuiltIn: false }));
  }

  async update(
    id: string,
    changes: RoleChanges,
    expectedVersion: number | undefined,
    manager: EntityManager,
  ): Promise<RoleEntity | null> {
    const query = this.repo(manager)
      .createQueryBuilder()
      .update(RoleEntity)
      .set({ ...changes, version: () => 'version + 1' })
      .where('id = :id', { id });
    if (expectedVersion !== undefined)
      query.andWhere('version = :expectedVersion', { expectedVersion });
    const result = await query.execute();
    return result.affected ? this.findById(id, manager) : null;
  }

  async isReferenced(name: string, manager: EntityManager): Promise<boolean> {
    const [row] = await manager.query<{ used: boolean }[]>(
      `SELECT EXISTS (SELECT 1 FROM users WHERE role = $1)
           OR EXISTS (SELECT 1 FROM roles WHERE parent_role = $1) AS used`,
      [name],
    );
    return row?.used ?? false;
  }

  async delete(id: string, manager: EntityManager): Promise<void> {
    await this.repo(manager).delete({ id });
  }
}
