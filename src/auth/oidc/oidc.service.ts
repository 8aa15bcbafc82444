import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { AppConfig } from '../../core/config/app-config';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../../core/database/postgres-errors';
import { AuthErrorCode, AuthException } from '../auth.exception';
import { TokenResponse } from '../dto/auth.dto';
import { USERNAME_PATTERN, UserResponse } from '../dto/user.dto';
import { UserEntity } from '../entities/user.entity';
import { PasswordHasher } from '../password-hasher';
import { RolesRepository } from '../roles.repository';
import { TokensService } from '../tokens.service';
import { UsersRepository } from '../users.repository';
import { OidcClient, OidcRejected, VerifiedIdentity } from './oidc-client';
import { OidcFlowStore } from './oidc-flow-store';
import { UserIdentitiesRepository } from './user-identities.repository';

/** A refused sign-in: what the caller is told, and why it is audited. */
class SignInRefused extends Error {
  constructor(
    readonly code: AuthErrorCode,
    readonly reason: string,
    readonly userId: string | null = null,
  ) {
    super(reason);
  }
}

/** Reads `path` from the claims: the exact name first (claims may be URLs), then dot by dot. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * The role the role map gives these claims: the first map entry whose group the user has,
 * else the default role, else null (refused).
 */
export function mapRole(
  claims: Record<string, unknown>,
  claim: string,
  roleMap: Record<string, string>,
  defaultRole: string | undefined,
): string | null {
  const value = claimAt(claims, claim);
  const groups = new Set(
    Array.isArray(value)
      ? value.filter((g): g is string => typeof g === 'string')
      : typeof value === 'string'
        ? [value]
        : [],
  );
  for (const [group, role] of Object.entries(roleMap)) {
    if (groups.has(group)) return role;
  }
  return defaultRole ?? null;
}

@Injectable()
export class OidcService {
  private readonly logger = new Logger(OidcService.name);
  private readonly roleMap: Record<string, string>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly client: OidcClient,
    private readonly flows: OidcFlowStore,
    private readonly identities: UserIdentitiesRepository,
    private readonly users: UsersRepository,
    private readonly roles: RolesRepository,
    private readonly tokens: TokensService,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {
    this.roleMap = JSON.parse(config.get('OIDC_ROLE_MAP')) as Record<string, string>;
  }

  /** 404 while single sign-on is not configured (OIDC_ISSUER empty). */
  assertEnabled(): void {
    if (!this.client.enabled) throw new AuthException(AuthErrorCode.OidcNotConfigured);
  }

  /** Starts a sign-in: state, nonce and PKCE verifier stay in Redis; the URL goes to the browser. */
  async start(): Promise<{ url: string; state: string }> {
    const { url, state, pending } = await this.client.start();
    await this.flows.put(state, pending);
    return { url, state };
  }

  /**
   * The provider's redirect back. `boundState` is the state of the sign-in this browser
   * started (its cookie): a callback URL carried to another browser is refused, and a
   * state is taken from Redis once, so a replayed callback is refused too.
   */
  async callback(
    state: string | undefined,
    rawQuery: string,
    boundState: string | undefined,
  ): Promise<TokenResponse> {
    if (!state || !boundState || !sameString(state, boundState)) {
      await this.auditFailure(state ? 'state-not-bound-to-browser' : 'state-missing', null);
      throw new AuthException(AuthErrorCode.OidcInvalidState);
    }
    const pending = await this.flows.take(state);
    if (!pending) {
      await this.auditFailure('state-unknown-expired-or-used', null);
      throw new AuthException(AuthErrorCode.OidcInvalidState);
    }
    let identity: VerifiedIdentity;
    try {
      identity = await this.client.finish(rawQuery, state, pending);
    } catch (error) {
      if (!(error instanceof OidcRejected)) throw error;
      await this.auditFailure(error.reason, null);
      throw new AuthException(AuthErrorCode.OidcFailed);
    }
    try {
      return await this.signIn(identity);
    } catch (error) {
      if (!(error instanceof SignInRefused)) throw error;
      await this.auditFailure(error.reason, error.userId, identity.issuer);
      throw new AuthException(error.code);
    }
  }

  private auditFailure(reason: string, userId: string | null, issuer?: string): Promise<void> {
    return this.audit.record({
      action: 'auth.login_failed',
      resourceType: 'user',
      resourceId: userId ?? undefined,
      actorId: userId,
      outcome: 'failure',
      details: { method: 'oidc', reason, ...(issuer ? { issuer } : {}) },
    });
  }

  /** One retry: a concurrent first sign-in of the same person may have created the rows. */
  private async signIn(identity: VerifiedIdentity): Promise<TokenResponse> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { user, pair } = await this.dataSource.transaction((manager) =>
          this.resolveAndIssue(identity, manager),
        );
        await this.users.touchLastLogin(user.id);
        const fresh = (await this.users.findById(user.id)) ?? user;
        return { ...pair, user: UserResponse.from(fresh) };
      } catch (error) {
        if (attempt < 2 && postgresErrorCode(error) === UNIQUE_VIOLATION) continue;
        throw error;
      }
    }
  }

  private async resolveAndIssue(identity: VerifiedIdentity, manager: EntityManager) {
    const { issuer, subject, claims } = identity;
    const role = mapRole(
      claims,
      this.config.get('OIDC_ROLE_CLAIM'),
      this.roleMap,
      this.config.get('OIDC_DEFAULT_ROLE'),
    );
    const known = await this.identities.find(issuer, subject, manager);
    let user: UserEntity | null;
    if (known) {
      user = await this.users.findById(known.userId, manager);
      await this.identities.touch(known.id, manager);
    } else {
      user = await this.linkOrCreate(identity, role, manager);
    }
    if (!user) throw new SignInRefused(AuthErrorCode.OidcFailed, 'identity-without-user');
    if (this.isSeededAdmin(user)) {
      throw new SignInRefused(AuthErrorCode.OidcAccountNotLinkable, 'seeded-admin', user.id);
    }
    if (!user.isActive) throw new SignInRefused(AuthErrorCode.AccountInactive, 'inactive', user.id);
    if (!role) throw new SignInRefused(AuthErrorCode.OidcNoRole, 'no-mapped-group', user.id);
    if (role !== user.role) user = await this.applyRole(user, role, manager);
    const pair = await this.tokens.issue(user, undefined, manager);
    await this.audit.record(
      {
        action: 'auth.login',
        resourceType: 'user',
        resourceId: user.id,
        actorId: user.id,
        details: { method: 'oidc', issuer },
      },
      manager,
    );
    return { user, pair };
  }

  /**
   * A first sign-in: the local account with the same e-mail when the provider asserts it
   * verified (and it is neither the break-glass admin nor linked to another subject of this
   * provider), else a new account, which needs an e-mail and a mapped role.
   */
  private async linkOrCreate(
    { issuer, subject, claims }: VerifiedIdentity,
    role: string | null,
    manager: EntityManager,
  ): Promise<UserEntity> {
    const email = typeof claims.email === 'string' ? claims.email.trim() : '';
    if (!email || email.length > 254) {
      throw new SignInRefused(AuthErrorCode.OidcEmailMissing, 'no-email');
    }
    const existing = await this.users.findByEmail(email, manager);
    if (existing) {
      // Only `true`: a provider that does not say, or says so as a string, is not trusted.
      if (claims.email_verified !== true) {
        throw new SignInRefused(AuthErrorCode.OidcEmailNotVerified, 'email-not-verified');
      }
      if (
        this.isSeededAdmin(existing) ||
        (await this.identities.userHasIssuer(existing.id, issuer, manager))
      ) {
        throw new SignInRefused(AuthErrorCode.OidcAccountNotLinkable, 'not-linkable', existing.id);
      }
      await this.identities.insert(
        { userId: existing.id, issuer, subject, linkedBy: 'email' },
        manager,
      );
      await this.audit.record(
        {
          action: 'auth.oidc_link',
          resourceType: 'user',
          resourceId: existing.id,
          actorId: existing.id,
          details: { issuer },
        },
        manager,
      );
      return existing;
    }
    if (!role) throw new SignInRefused(AuthErrorCode.OidcNoRole, 'no-mapped-group');
    await this.assertRoleExists(role, manager);
    const created = await this.users.create(
      {
        username: await this.freeUsername(claims, email, manager),
        email,
        fullName: fullNameOf(claims, email),
        role,
        // Nobody knows it: the account signs in through the provider only, until an
        // administrator sets a password.
        passwordHash: await this.hasher.hash(randomBytes(32).toString('base64url')),
      },
      manager,
    );
    await this.identities.insert(
      { userId: created.id, issuer, subject, linkedBy: 'created' },
      manager,
    );
    await this.audit.record(
      {
        action: 'user.create',
        resourceType: 'user',
        resourceId: created.id,
        actorId: null,
        details: { username: created.username, role, via: 'oidc', issuer },
      },
      manager,
    );
    return created;
  }

  /** The provider's groups decide the role at every sign-in; a change ends older tokens. */
  private async applyRole(
    user: UserEntity,
    role: string,
    manager: EntityManager,
  ): Promise<UserEntity> {
    await this.assertRoleExists(role, manager, user.id);
    const updated = await this.users.update(
      user.id,
      { role, bumpTokenVersion: true },
      undefined,
      manager,
    );
    await this.audit.record(
      {
        action: 'user.update',
        resourceType: 'user',
        resourceId: user.id,
        actorId: null,
        details: { fields: ['role'], from: user.role, to: role, via: 'oidc' },
      },
      manager,
    );
    return updated ?? user;
  }

  private async assertRoleExists(
    role: string,
    manager: EntityManager,
    userId: string | null = null,
  ): Promise<void> {
    if (await this.roles.findByName(role, manager)) return;
    this.logger.error(`OIDC_ROLE_MAP or OIDC_DEFAULT_ROLE names the unknown role "${role}"`);
    throw new SignInRefused(AuthErrorCode.OidcNoRole, `unknown-role:${role}`, userId);
  }

  private isSeededAdmin(user: UserEntity): boolean {
    return user.username.toLowerCase() === this.config.get('ADMIN_USERNAME').toLowerCase();
  }

  /** `preferred_username`, else the e-mail's local part, made valid and unique. */
  private async freeUsername(
    claims: Record<string, unknown>,
    email: string,
    manager: EntityManager,
  ): Promise<string> {
    const preferred = claims.preferred_username;
    const base =
      typeof preferred === 'string' && USERNAME_PATTERN.test(preferred)
        ? preferred
        : (email.split('@')[0] ?? '')
            .replace(/[^A-Za-z0-9_.-]/g, '')
            .slice(0, 50)
            .padEnd(3, '_');
    for (let n = 1; n <= 5; n += 1) {
      const candidate = n === 1 ? base : `${base.slice(0, 58)}-${n}`;
      if (!(await this.users.usernameTaken(candidate, manager))) return candidate;
    }
    return `${base.slice(0, 50)}-${randomBytes(4).toString('hex')}`;
  }
}

function fullNameOf(claims: Record<string, unknown>, email: string): string {
  const name = typeof claims.name === 'string' ? claims.name.trim() : '';
  // The same rule free text follows elsewhere: no control or bidirectional characters.
  const clean = name.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, '').slice(0, 200);
  return clean || email;
}

function sameString(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
