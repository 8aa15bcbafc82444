import { Injectable } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository';
import { AuditEvent, AuditService } from '../audit/audit.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { UnauthenticatedProblem } from '../core/http/problem.exception';
import { RequestContext } from '../core/http/request-context';
import type { Actor } from '../core/security/actor';
import {
  AttemptRefusal,
  FailureLimiter,
  FailureScope,
  isRefusal,
} from '../core/security/failure-limiter';
import { expandGrants, grants } from '../core/security/permissions';
import { AuthErrorCode, AuthException } from './auth.exception';
import { ChangePasswordDto, LoginDto, MeResponse, TokenResponse } from './dto/auth.dto';
import { UpdateMeDto, UserResponse } from './dto/user.dto';
import { UserEntity } from './entities/user.entity';
import { PasswordHasher } from './password-hasher';
import { SessionsRepository } from './sessions.repository';
import { parseRefreshToken, secretMatches, TokenPair, TokensService } from './tokens.service';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

type RotationOutcome =
  | { kind: 'rotated'; pair: TokenPair; user: UserEntity }
  | { kind: 'invalid' }
  | { kind: 'reused'; userId: string; familyId: string };

/** The failure scope of one account's password (login and password change share it). */
export const loginAccountScope = (accountKey: string): string => `login:account:${accountKey}`;

/** What a password failure is audited as; `details.reason` is added per outcome. */
type SecretAudit = Pick<AuditEvent, 'action' | 'resourceType' | 'resourceId' | 'actorId'>;

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly usersService: UsersService,
    private readonly sessions: SessionsRepository,
    private readonly tokens: TokensService,
    private readonly hasher: PasswordHasher,
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Failures are counted per account (or per unknown login name, so unknown and known
   * accounts behave alike) and per IP, which tolerates 4x as many across accounts.
   */
  private scopesFor(accountKey: string): FailureScope[] {
    const maxFailures = this.config.get('LOGIN_MAX_FAILURES');
    const windowMs = this.config.get('LOGIN_LOCK_MINUTES') * 60_000;
    return [
      { key: loginAccountScope(accountKey), maxFailures, windowMs },
      { key: `login:ip:${this.context.ip ?? 'unknown'}`, maxFailures: maxFailures * 4, windowMs },
    ];
  }

  async login({ login, password }: LoginDto): Promise<TokenResponse> {
    // Decided on the name alone, before any lookup or password check: the answer tells
    // nothing about the account, and the admin signs in by username (not e-mail) then.
    if (
      !this.config.get('PASSWORD_LOGIN') &&
      login.toLowerCase() !== this.config.get('ADMIN_USERNAME').toLowerCase()
    ) {
      await this.audit.record({
        action: 'auth.login_failed',
        resourceType: 'user',
        actorId: null,
        outcome: 'failure',
        details: { reason: 'password-login-disabled' },
      });
      throw new AuthException(AuthErrorCode.PasswordLoginDisabled);
    }
    const user = await this.users.findForLogin(login);
    const scopes = this.scopesFor(user?.id ?? `name:${login.toLowerCase()}`);
    // The check is admitted before the password is verified, so concurrent guesses cannot
    // all slip past the lock; concurrent correct logins wait their turn instead of being
    // refused (see FailureLimiter).
    const audit: SecretAudit = {
      action: 'auth.login_failed',
      resourceType: 'user',
      resourceId: user?.id,
      actorId: user?.id ?? null,
    };
    const failure = await this.checkSecret(scopes, audit, async () => {
      // Verified even for an unknown login, so both take the same time.
      const passwordOk = await this.hasher.verify(user?.passwordHash, password);
      if (!user) return 'unknown-login';
      if (!passwordOk) return 'wrong-password';
      return user.isActive ? null : 'inactive';
    });
    if (failure || !user) throw new AuthException(AuthErrorCode.InvalidCredentials);
    await this.users.touchLastLogin(user.id);
    const pair = await this.tokens.issue(user);
    await this.audit.record({
      action: 'auth.login',
      resourceType: 'user',
      resourceId: user.id,
      actorId: user.id,
    });
    const fresh = (await this.users.findById(user.id)) ?? user;
    return { ...pair, user: UserResponse.from(fresh) };
  }

  /**
   * One password check under the failure limits: the attempt is admitted before `verify`
   * runs (429 while locked or busy, the lock audited), a wrong answer counts as a failure
   * and is audited with its reason, a right one clears the account's count. Returns the
   * failure reason, or null when the secret was right.
   */
  private async checkSecret(
    scopes: FailureScope[],
    audit: SecretAudit,
    verify: () => Promise<string | null>,
    lockoutUserId: string | null = audit.actorId ?? null,
  ): Promise<string | null> {
    const attempt = await this.limiter.attempt(scopes);
    if (isRefusal(attempt)) {
      if (attempt.reason === 'locked') {
        await this.audit.record({ ...audit, outcome: 'failure', details: { reason: 'locked' } });
      }
      throw this.refusedError(attempt);
    }
    let failure: string | null;
    try {
      failure = await verify();
    } catch (error) {
      await attempt.release();
      throw error;
    }
    if (failure) {
      const locked = await attempt.failed();
      await this.audit.record({ ...audit, outcome: 'failure', details: { reason: failure } });
      await this.auditLockout(locked, lockoutUserId);
      return failure;
    }
    await attempt.release();
    await this.limiter.reset(scopes[0]!);
    return null;
  }

  private async auditLockout(locked: string[], userId: string | null): Promise<void> {
    if (locked.length === 0) return;
    await this.audit.record({
      action: 'auth.lockout',
      resourceType: 'user',
      resourceId: userId ?? undefined,
      outcome: 'failure',
      actorId: userId,
      details: { scopes: locked.map((key) => key.split(':')[1]) },
    });
  }

  private refusedError(refusal: AttemptRefusal): AuthException {
    const seconds = String(Math.max(1, Math.ceil(refusal.retryAfterMs / 1000)));
    return new AuthException(
      refusal.reason === 'locked' ? AuthErrorCode.LoginLocked : AuthErrorCode.LoginBusy,
      undefined,
      { 'retry-after': seconds },
    );
  }

  /**
   * Rotation: the presented token is consumed and a new one in the same family is
   * issued. A token already consumed means it was copied: the family is revoked.
   */
  async refresh(refreshToken: string): Promise<TokenResponse> {
    const parsed = parseRefreshToken(refreshToken);
    if (!parsed) throw new AuthException(AuthErrorCode.InvalidRefreshToken);
    const outcome = await this.sessions.transaction<RotationOutcome>(async (manager) => {
      const stored = await this.sessions.findForRotation(parsed.id, manager);
      if (!stored || !secretMatches(parsed.secret, stored.tokenHash)) return { kind: 'invalid' };
      if (stored.revokedAt) return { kind: 'invalid' };
      if (stored.rotatedAt) {
        await this.sessions.revokeFamily(stored.familyId, manager);
        return { kind: 'reused', userId: stored.userId, familyId: stored.familyId };
      }
      if (stored.expiresAt.getTime() <= this.clock.nowMs()) return { kind: 'invalid' };
      const user = await this.users.findById(stored.userId, manager);
      if (!user?.isActive) return { kind: 'invalid' };
      await this.sessions.markRotated(stored.id, manager);
      const pair = await this.tokens.issue(user, stored.familyId, manager);
      return { kind: 'rotated', pair, user };
    });
    switch (outcome.kind) {
      case 'invalid':
        throw new AuthException(AuthErrorCode.InvalidRefreshToken);
      case 'reused':
        await this.audit.record({
          action: 'auth.refresh_reuse',
          resourceType: 'session',
          resourceId: outcome.familyId,
          actorId: outcome.userId,
          outcome: 'failure',
        });
        throw new AuthException(AuthErrorCode.RefreshTokenReused);
      case 'rotated':
        await this.audit.record({
          action: 'auth.refresh',
          resourceType: 'session',
          resourceId: outcome.pair.refreshToken.split('.')[0],
          actorId: outcome.user.id,
        });
        return { ...outcome.pair, user: UserResponse.from(outcome.user) };
    }
  }

  /** Revokes the session the refresh token belongs to; its access tokens stop working too. */
  async logout(actor: Actor, refreshToken: string): Promise<void> {
    const parsed = parseRefreshToken(refreshToken);
    const stored = parsed ? await this.sessions.findById(parsed.id) : null;
    if (
      !parsed ||
      !stored ||
      stored.userId !== actor.userId ||
      !secretMatches(parsed.secret, stored.tokenHash)
    ) {
      throw new AuthException(AuthErrorCode.InvalidRefreshToken);
    }
    await this.sessions.transaction(async (manager) => {
      await this.sessions.revokeFamily(stored.familyId, manager);
      await this.audit.record(
        { action: 'auth.logout', resourceType: 'session', resourceId: stored.familyId },
        manager,
      );
    });
  }

  async me(actor: Actor): Promise<MeResponse> {
    const user = await this.users.findById(actor.userId);
    if (!user) throw new UnauthenticatedProblem();
    return { ...UserResponse.from(user), permissions: expandGrants(actor.grants) };
  }

  /**
   * Users change their own name; their e-mail only with `users:manage`. Without e-mail
   * verification, any answer to "change my address to X" would tell whether another
   * account uses X (409 vs 200), so callers who may not list users are refused whatever
   * the address (403), and an administrator changes it for them (PATCH /users/:id).
   */
  async updateMe(
    actor: Actor,
    changes: UpdateMeDto,
    expectedVersion?: number,
  ): Promise<UserEntity> {
    if (changes.email !== undefined && !grants(actor.grants, 'users:manage')) {
      const current = await this.users.findById(actor.userId);
      if (!current) throw new UnauthenticatedProblem();
      if (current.email.toLowerCase() !== changes.email.toLowerCase()) {
        throw new AuthException(AuthErrorCode.EmailChangeByAdministrator);
      }
    }
    return this.usersService.update(actor, actor.userId, changes, expectedVersion);
  }

  /**
   * Changes the password, ends every session (this one included) and starts a new one,
   * and revokes every API key of the user: a key minted by whoever knew the old password
   * must not outlive it. Wrong current passwords count against the login limits of the
   * account and address (the same secret is being guessed), so a stolen access token
   * cannot be used to guess the password without limit.
   */
  async changePassword(actor: Actor, dto: ChangePasswordDto): Promise<TokenResponse> {
    const user = await this.users.findWithPasswordHash(actor.userId);
    const failure = await this.checkSecret(
      this.scopesFor(actor.userId),
      { action: 'auth.password_change', resourceType: 'user', resourceId: actor.userId },
      async () =>
        user && (await this.hasher.verify(user.passwordHash, dto.currentPassword))
          ? null
          : 'wrong-current-password',
      actor.userId,
    );
    if (failure || !user) throw new AuthException(AuthErrorCode.WrongCurrentPassword);
    const passwordHash = await this.hasher.hash(dto.newPassword);
    const userId = user.id;
    const { updated, pair } = await this.sessions.transaction(async (manager) => {
      const changed = await this.users.update(
        userId,
        { passwordHash, bumpTokenVersion: true },
        undefined,
        manager,
      );
      await this.sessions.revokeAllOfUser(userId, manager);
      const revokedApiKeys = await this.apiKeys.revokeAllOfUser(userId, manager);
      const tokens = await this.tokens.issue(changed!, undefined, manager);
      await this.audit.record(
        {
          action: 'auth.password_change',
          resourceType: 'user',
          resourceId: userId,
          details: { revokedApiKeys },
        },
        manager,
      );
      return { updated: changed!, pair: tokens };
    });
    return { ...pair, user: UserResponse.from(updated) };
  }
}
