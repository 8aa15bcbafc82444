import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeysRepository } from './api-keys.repository';
import { AuditService } from '../audit/audit.service';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../core/database/postgres-errors';
import { NotFoundProblem, PreconditionFailedProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { coversAll } from '../core/security/permissions';
import { AuthErrorCode, AuthException } from './auth.exception';
import { ADMIN_ROLE } from './built-in-roles';
import { CreateUserDto, UpdateUserDto } from './dto/user.dto';
import { UserEntity } from './entities/user.entity';
import { PasswordHasher } from './password-hasher';
import { RolesRepository } from './roles.repository';
import { SessionsRepository } from './sessions.repository';
import { UserChanges, UsersRepository } from './users.repository';

@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly roles: RolesRepository,
    private readonly sessions: SessionsRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
  ) {}

  list(offset: number, limit: number): Promise<[UserEntity[], number]> {
    return this.users.list(offset, limit);
  }

  /** Active administrators: who hears of what only operators can fix (a failed backup). */
  adminIds(): Promise<string[]> {
    return this.users.activeIdsWithRole('admin');
  }

  async get(id: string): Promise<UserEntity> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundProblem('user');
    return user;
  }

  async create(actor: Actor, dto: CreateUserDto): Promise<UserEntity> {
    await this.assertRoleExists(dto.role);
    await this.assertWithinOwnPermissions(actor, dto.role);
    return this.insert(dto, { username: dto.username, role: dto.role });
  }

  /**
   * An administrator created by the operator (CLI `create-admin`) or by the seed, not
   * by a signed-in user: no actor, so no permission check; audited with how it came.
   */
  createAdmin(
    admin: { username: string; email: string; password: string; fullName?: string },
    via: 'cli' | 'seed',
  ): Promise<UserEntity> {
    return this.insert(
      { ...admin, fullName: admin.fullName ?? 'Administrator', role: ADMIN_ROLE },
      { username: admin.username, role: ADMIN_ROLE, via },
      null,
    );
  }

  /**
   * The seed's first admin, once: nothing happens when an admin or a user of that name
   * exists. Without a given password a strong one is generated and returned (once).
   */
  async ensureFirstAdmin(admin: {
    username: string;
    email: string;
    password?: string;
  }): Promise<{ adminCreated: boolean; generatedPassword?: string }> {
    if (await this.users.existsAdminOrUsername(admin.username, ADMIN_ROLE)) {
      return { adminCreated: false };
    }
    const generatedPassword = admin.password ? undefined : randomBytes(18).toString('base64url');
    try {
      await this.createAdmin({ ...admin, password: admin.password ?? generatedPassword! }, 'seed');
    } catch (error) {
      // A seed running at the same moment created it first.
      if (
        error instanceof AuthException &&
        (error.code as AuthErrorCode) === AuthErrorCode.UserExists
      )
        return { adminCreated: false };
      throw error;
    }
    return { adminCreated: true, generatedPassword };
  }

  /** The one place a user row is created: hashed password, unique login, audited. */
  private async insert(
    user: Pick<UserEntity, 'username' | 'email' | 'fullName' | 'role'> & { password: string },
    details: Record<string, unknown>,
    actorId?: null,
  ): Promise<UserEntity> {
    const passwordHash = await this.hasher.hash(user.password);
    try {
      return await this.dataSource.transaction(async (manager) => {
        if (await this.users.existsWithLogin(user.username, user.email, manager)) {
          throw new AuthException(AuthErrorCode.UserExists);
        }
        const created = await this.users.create(
          {
            username: user.username,
            email: user.email,
            fullName: user.fullName,
            role: user.role,
            passwordHash,
          },
          manager,
        );
        await this.audit.record(
          {
            action: 'user.create',
            resourceType: 'user',
            resourceId: created.id,
            ...(actorId === null ? { actorId } : {}),
            details,
          },
          manager,
        );
        return created;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new AuthException(AuthErrorCode.UserExists);
      throw error;
    }
  }

  /**
   * Changes a user. A role change, deactivation or password reset bumps the user's
   * tokenVersion (older access tokens fail at once); the latter two also end sessions.
   */
  async update(
    actor: Actor,
    id: string,
    dto: UpdateUserDto,
    expectedVersion?: number,
  ): Promise<UserEntity> {
    // A password reset is a credential change: a leaked API key must not take an account
    // (its own owner's included) by setting a password it then signs in with.
    if (dto.password !== undefined && actor.via === 'api-key') {
      throw new AuthException(AuthErrorCode.CredentialChangeNeedsSession);
    }
    const current = await this.get(id);
    // Managing an account (password reset, deactivation, ...) is taking it over: only
    // accounts whose role grants no more than the caller's own.
    await this.assertWithinOwnPermissions(actor, current.role);
    if (
      id === actor.userId &&
      (dto.isActive === false || (dto.role !== undefined && dto.role !== current.role))
    ) {
      throw new AuthException(AuthErrorCode.CannotChangeSelf);
    }
    if (dto.role !== undefined && dto.role !== current.role) {
      await this.assertRoleExists(dto.role);
      await this.assertWithinOwnPermissions(actor, dto.role);
    }
    const changes: UserChanges = {
      ...(dto.email !== undefined ? { email: dto.email } : {}),
      ...(dto.fullName !== undefined ? { fullName: dto.fullName } : {}),
      ...(dto.role !== undefined ? { role: dto.role } : {}),
      ...(dto.isActive !== undefined ? { isActive: dto.isActive } : {}),
      ...(dto.password !== undefined ? { passwordHash: await this.hasher.hash(dto.password) } : {}),
    };
    const endsSessions = dto.isActive === false || dto.password !== undefined;
    changes.bumpTokenVersion =
      endsSessions || (dto.role !== undefined && dto.role !== current.role);
    try {
      return await this.dataSource.transaction(async (manager) => {
        const updated = await this.users.update(id, changes, expectedVersion, manager);
        if (!updated) throw new PreconditionFailedProblem();
        if (endsSessions) await this.sessions.revokeAllOfUser(id, manager);
        // Keys minted by whoever knew the old password must not outlive it.
        const revokedApiKeys =
          dto.password !== undefined ? await this.apiKeys.revokeAllOfUser(id, manager) : 0;
        await this.audit.record(
          {
            action: 'user.update',
            resourceType: 'user',
            resourceId: id,
            details: {
              fields: Object.keys(dto).filter((k) => k !== 'password'),
              passwordReset: dto.password !== undefined,
              ...(revokedApiKeys > 0 ? { revokedApiKeys } : {}),
            },
          },
          manager,
        );
        return updated;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION)
        throw new AuthException(AuthErrorCode.UserExists);
      throw error;
    }
  }

  /** No privilege escalation: a role is assigned or managed only by holders of all it grants. */
  private async assertWithinOwnPermissions(actor: Actor, role: string): Promise<void> {
    if (!coversAll(actor.grants, await this.roles.effectiveGrants(role))) {
      throw new AuthException(AuthErrorCode.BeyondOwnPermissions);
    }
  }

  private async assertRoleExists(role: string): Promise<void> {
    if (!(await this.roles.findByName(role))) {
      throw new AuthException(AuthErrorCode.UnknownRole, `The role "${role}" does not exist.`);
    }
  }
}
