import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../core/database/postgres-errors';
import { NotFoundProblem, PreconditionFailedProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { coversAll, isValidGrant } from '../core/security/permissions';
import { AuthErrorCode, AuthException } from './auth.exception';
import { ADMIN_ROLE } from './built-in-roles';
import { CreateRoleDto, UpdateRoleDto } from './dto/role.dto';
import { RoleEntity } from './entities/role.entity';
import { RoleChanges, RolesRepository } from './roles.repository';
import { EntityManager } from 'typeorm';

@Injectable()
export class RolesService {
  constructor(
    private readonly roles: RolesRepository,
    private readonly audit: AuditService,
  ) {}

  list(offset: number, limit: number): Promise<[RoleEntity[], number]> {
    return this.roles.list(offset, limit);
  }

  async get(id: string): Promise<RoleEntity> {
    const role = await this.roles.findById(id);
    if (!role) throw new NotFoundProblem('role');
    return role;
  }

  async create(actor: Actor, dto: CreateRoleDto): Promise<RoleEntity> {
    this.assertGrants(dto.permissions);
    try {
      return await this.roles.transaction(async (manager) => {
        if (await this.roles.findByName(dto.name, manager))
          throw new AuthException(AuthErrorCode.RoleExists);
        if (dto.parentRole) await this.assertParentExists(dto.parentRole, manager);
        await this.assertWithinOwnPermissions(actor, dto.permissions, dto.parentRole ?? null);
        const role = await this.roles.create(
          {
            name: dto.name,
            description: dto.description ?? '',
            permissions: [...new Set(dto.permissions)],
            parentRole: dto.parentRole ?? null,
          },
          manager,
        );
        await this.audit.record(
          {
            action: 'role.create',
            resourceType: 'role',
            resourceId: role.id,
            details: {
              name: role.name,
              permissions: role.permissions,
              parentRole: role.parentRole,
            },
          },
          manager,
        );
        return role;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new AuthException(AuthErrorCode.RoleExists);
      throw error;
    }
  }

  /** Permissions and parent take effect on the next request of every holder of the role. */
  async update(
    actor: Actor,
    id: string,
    dto: UpdateRoleDto,
    expectedVersion?: number,
  ): Promise<RoleEntity> {
    if (dto.permissions) this.assertGrants(dto.permissions);
    return this.roles.transaction(async (manager) => {
      const role = await this.roles.findById(id, manager);
      if (!role) throw new NotFoundProblem('role');
      if (role.name === ADMIN_ROLE) throw new AuthException(AuthErrorCode.BuiltInRole);
      if (dto.parentRole) {
        await this.assertParentExists(dto.parentRole, manager);
        const lineage = await this.roles.lineage(dto.parentRole, manager);
        if (lineage.includes(role.name)) throw new AuthException(AuthErrorCode.RoleCycle);
      }
      // Neither a role more powerful than the caller nor one made so by this change.
      await this.assertWithinOwnPermissions(actor, role.permissions, role.parentRole);
      await this.assertWithinOwnPermissions(
        actor,
        dto.permissions ?? role.permissions,
        dto.parentRole !== undefined ? dto.parentRole : role.parentRole,
      );
      const changes: RoleChanges = {
        ...(dto.description !== undefined ? { description: dto.description } : {}),
        ...(dto.permissions !== undefined ? { permissions: [...new Set(dto.permissions)] } : {}),
        ...(dto.parentRole !== undefined ? { parentRole: dto.parentRole } : {}),
      };
      const updated = await this.roles.update(id, changes, expectedVersion, manager);
      if (!updated) throw new PreconditionFailedProblem();
      await this.audit.record(
        {
          action: 'role.update',
          resourceType: 'role',
          resourceId: id,
          details: { name: role.name, ...changes },
        },
        manager,
      );
      return updated;
    });
  }

  async delete(id: string): Promise<void> {
    await this.roles.transaction(async (manager) => {
      const role = await this.roles.findById(id, manager);
      if (!role) throw new NotFoundProblem('role');
      if (role.isBuiltIn) throw new AuthException(AuthErrorCode.BuiltInRole);
      if (await this.roles.isReferenced(role.name, manager))
        throw new AuthException(AuthErrorCode.RoleInUse);
      await this.roles.delete(id, manager);
      await this.audit.record(
        {
          action: 'role.delete',
          resourceType: 'role',
          resourceId: id,
          details: { name: role.name },
        },
        manager,
      );
    });
  }

  private assertGrants(permissions: string[]): void {
    const invalid = permissions.filter((p) => !isValidGrant(p));
    if (invalid.length > 0) {
      throw new AuthException(
        AuthErrorCode.InvalidPermission,
        `Not in the permission catalogue: ${invalid.join(', ')}.`,
      );
    }
  }

  /** No privilege escalation: nobody grants, even by inheritance, what they do not hold. */
  private async assertWithinOwnPermissions(
    actor: Actor,
    permissions: string[],
    parentRole: string | null,
  ): Promise<void> {
    const inherited = parentRole ? await this.roles.effectiveGrants(parentRole) : [];
    if (!coversAll(actor.grants, [...permissions, ...inherited])) {
      throw new AuthException(AuthErrorCode.BeyondOwnPermissions);
    }
  }

  private async assertParentExists(name: string, manager: EntityManager): Promise<void> {
    if (!(await this.roles.findByName(name, manager))) {
      throw new AuthException(
        AuthErrorCode.UnknownRole,
        `The parent role "${name}" does not exist.`,
      );
    }
  }
}
