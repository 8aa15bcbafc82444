import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { CacheInvalidation } from '../core/cache/cache-invalidation';
import { CoherentCache } from '../core/cache/coherent-cache';
import { LastKnown } from '../core/database/last-known';
import { UserEntity } from './entities/user.entity';

/** What the access guard needs to know about a caller, loaded in one query. */
export interface Principal {
  id: string;
  username: string;
  role: string;
  isActive: boolean;
  tokenVersion: number;
  grants: string[];
  sessionRevoked: boolean;
}

/** The owner behind an API key, with the key's id and expiry (null: never expires). */
export type ApiKeyPrincipal = Principal & { apiKeyId: string; apiKeyExpiresAt: Date | null };

export type UserChanges = Partial<
  Pick<UserEntity, 'email' | 'fullName' | 'role' | 'isActive' | 'passwordHash' | 'lastLoginAt'>
> & { bumpTokenVersion?: boolean };

/**
 * Effective grants of a role: its own and every ancestor's (depth-capped, cycles are
 * rejected on write anyway). Shared by the principal queries below.
 */
const ROLE_CHAIN = `
  chain(name, permissions, parent_role, depth) AS (
    SELECT r.name, r.permissions, r.parent_role, 1 FROM roles r WHERE r.name = (SELECT role FROM u)
    UNION ALL
    SELECT p.name, p.permissions, p.parent_role, c.depth + 1
      FROM roles p JOIN chain c ON p.name = c.parent_role
     WHERE c.depth < 32
  )`;

const PRINCIPAL_SELECT = `
  SELECT u.id, u.username, u.role, u.is_active AS "isActive", u.token_version AS "tokenVersion",
         COALESCE((SELECT jsonb_agg(DISTINCT g) FROM chain, jsonb_array_elements_text(chain.permissions) g), '[]'::jsonb) AS grants`;

@Injectable()
export class UsersRepository {
  /** Lets authenticated ingestion continue while Postgres is unreachable (see LastKnown). */
  private readonly lastKnownPrincipals = new LastKnown<Principal | null>();
  private readonly lastKnownKeys = new LastKnown<ApiKeyPrincipal | null>();

  /** Principals behind access tokens, kept until the user, session or roles change. */
  private readonly principals: CoherentCache<Principal | null>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {
    this.principals = invalidation.create({ maxEntries: 20_000, ttlMs: 10 * 60_000 });
  }

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(UserEntity);
  }

  /** By username or email, case-insensitively, with the password hash. */
  findForLogin(login: string): Promise<UserEntity | null> {
    return this.repo()
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.username) = lower(:login) OR lower(u.email) = lower(:login)', { login })
      .getOne();
  }

  /** By e-mail, case-insensitively (e-mails are unique that way). */
  findByEmail(email: string, manager?: EntityManager): Promise<UserEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('u')
      .where('lower(u.email) = lower(:email)', { email })
      .getOne();
  }

  usernameTaken(username: string, manager?: EntityManager): Promise<boolean> {
    return this.repo(manager)
      .createQueryBuilder('u')
      .where('lower(u.username) = lower(:username)', { username })
      .getExists();
  }

  findById(id: string, manager?: EntityManager): Promise<UserEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  findWithPasswordHash(id: string): Promise<UserEntity | null> {
    return this.repo()
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('u.id = :id', { id })
      .getOne();
  }

  async existsWithLogin(
    username: string,
    email: string,
    manager?: EntityManager,
  ): Promise<boolean> {
    return this.repo(manager)
      .createQueryBuilder('u')
      .where('lower(u.username) = lower(:username) OR lower(u.email) = lower(:email)', {
        username,
        email,
      })
      .getExists();
  }

  async list(offset: number, limit: number): Promise<[UserEntity[], number]> {
    return this.repo().findAndCount({
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  /** Whether a user of this name, or any user with `role`, exists (the seed's "already seeded"). */
  existsAdminOrUsername(username: string, role: string): Promise<boolean> {
    return this.repo()
      .createQueryBuilder('u')
      .where('lower(u.username) = lower(:username) OR u.role = :role', { username, role })
      .getExists();
  }

  create(
    user: Pick<UserEntity, 'username' | 'email' | 'fullName' | 'passwordHash' | 'role'>,
    manager?: EntityManager,
  ): Promise<UserEntity> {
    return this.repo(manager).save(this.repo(manager).create(user));
  }

  /**
   * Applies changes if the row is still at `expectedVersion` (when given).
   * Returns the updated row, or null when the id or version did not match.
   */
  async update(
    id: string,
    changes: UserChanges,
    expectedVersion: number | undefined,
    manager?: EntityManager,
  ): Promise<UserEntity | null> {
    const { bumpTokenVersion, ...columns } = changes;
    const query = this.repo(manager)
      .createQueryBuilder()
      .update(UserEntity)
      .set({
        ...columns,
        version: () => 'version + 1',
        ...(bumpTokenVersion ? { tokenVersion: () => 'token_version + 1' } : {}),
      })
      .where('id = :id', { id });
    if (expectedVersion !== undefined)
      query.andWhere('version = :expectedVersion', { expectedVersion });
    const result = await query.execute();
    if (!result.affected) return null;
    this.invalidation.invalidate(`user:${id}`, manager);
    return this.findById(id, manager);
  }

  /** Stamps the login time without counting as an edit (no version bump). */
  async touchLastLogin(id: string): Promise<void> {
    await this.repo().query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
  }

  async activeIdsWithRole(role: string): Promise<string[]> {
    const rows = await this.repo().find({ select: { id: true }, where: { role, isActive: true } });
    return rows.map((row) => row.id);
  }

  countWithRole(role: string, manager?: EntityManager): Promise<number> {
    return this.repo(manager).countBy({ role });
  }

  /**
   * The caller behind an access token: identity, state, effective grants, and whether
   * the token's session (refresh-token family) has been revoked since it was issued.
   */
  findPrincipal(userId: string, sessionId: string | null): Promise<Principal | null> {
    const key = `${userId}:${sessionId}`;
    return this.principals.get(
      key,
      () => this.lastKnownPrincipals.get(key, () => this.loadPrincipal(userId, sessionId)),
      () => (sessionId ? [`user:${userId}`, `session:${sessionId}`] : [`user:${userId}`]),
    );
  }

  private async loadPrincipal(userId: string, sessionId: string | null): Promise<Principal | null> {
    const [row] = await this.dataSource.query<Principal[]>(
      `WITH RECURSIVE u AS (SELECT * FROM users WHERE id = $1), ${ROLE_CHAIN}
       ${PRINCIPAL_SELECT},
         ($2::uuid IS NOT NULL AND EXISTS (
            SELECT 1 FROM refresh_tokens t WHERE t.family_id = $2::uuid AND t.revoked_at IS NOT NULL
         )) AS "sessionRevoked"
       FROM u`,
      [userId, sessionId],
    );
    return row ?? null;
  }

  /**
   * The owner behind an unrevoked API key, with the key's id and expiry. Expiry is left to
   * the caller, which decides it against the Clock (and so also for a last-known row).
   */
  findPrincipalByApiKey(keyHash: string): Promise<ApiKeyPrincipal | null> {
    return this.lastKnownKeys.get(keyHash, () => this.loadPrincipalByApiKey(keyHash));
  }

  private async loadPrincipalByApiKey(keyHash: string): Promise<ApiKeyPrincipal | null> {
    const [row] = await this.dataSource.query<ApiKeyPrincipal[]>(
      `WITH RECURSIVE k AS (
          SELECT id, user_id, expires_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
       ),
       u AS (SELECT users.* FROM users JOIN k ON k.user_id = users.id), ${ROLE_CHAIN}
       ${PRINCIPAL_SELECT}, false AS "sessionRevoked", (SELECT id FROM k) AS "apiKeyId",
         (SELECT expires_at FROM k) AS "apiKeyExpiresAt"
       FROM u`,
      [keyHash],
    );
    return row ?? null;
  }
}
