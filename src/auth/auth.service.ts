import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../core/config/app-config';
import { UnauthenticatedProblem } from '../core/http/problem.exception';
import { RequestContext } from '../core/http/request-context';
import type { Actor } from '../core/security/actor';
import { FailureLimiter, FailureScope } from '../core/security/failure-limiter';
import { expandGrants } from '../core/security/permissions';
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

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
    private readonly sessions: SessionsRepository,
    private readonly tokens: TokensService,
    private readonly hasher: PasswordHasher,
    private readonly limiter: FailureLimiter,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
    private readonly config: AppConfig,
  ) {}

  /**
   * Failures are counted per account (or per unknown login name, so unknown and known
   * accounts behave alike) and per IP, which tolerates 4x as many across accounts.
   */
  private scopesFor(accountKey: string): FailureScope[] {
    const maxFailures = this.config.get('LOGIN_MAX_FAILURES');
    const windowMs = this.config.get('LOGIN_LOCK_MINUTES') * 60_000;
    return [
      { key: `login:account:${accountKey}`, maxFailures, windowMs },
      { key: `login:ip:${this.context.ip ?? 'unknown'}`, maxFailures: maxFailures * 4, windowMs },
    ];
  }

  async login({ login, password }: LoginDto): Promise<TokenResponse> {
    const user = await this.users.findForLogin(login);
    const scopes = this.scopesFor(user?.id ?? `name:${login.toLowerCase()}`);
    // The attempt is counted before the password is checked, so concurrent guesses
    // cannot all slip past the lock (see FailureLimiter.attempt).
    const lockedMs = await this.limiter.attempt(scopes);
    if (lockedMs > 0) {
      await this.audit.record({
        action: 'auth.login_failed',
        resourceType: 'user',
        resourceId: user?.id,
        outcome: 'failure',
        actorId: user?.id ?? null,
        details: { reason: 'locked' },
      });
      throw this.lockedError(lockedMs);
    }
    const passwordOk = await this.hasher.verify(user?.passwordHash, password);
    if (!user || !passwordOk || !user.isActive) {
      const locked = await this.limiter.failed(scopes);
      await this.audit.record({
        action: 'auth.login_failed',
        resourceType: 'user',
        resourceId: user?.id,
        outcome: 'failure',
        actorId: user?.id ?? null,
        details: { reason: !user ? 'unknown-login' : !passwordOk ? 'wrong-password' : 'inactive' },
      });
      if (locked.length > 0) {
        await this.audit.record({
          action: 'auth.lockout',
          resourceType: 'user',
          resourceId: user?.id,
          outcome: 'failure',
          actorId: user?.id ?? null,
          details: { scopes: locked.map((key) => key.split(':')[1]) },
        });
      }
      throw new AuthException(AuthErrorCode.InvalidCredentials);
    }
    await this.limiter.succeeded(scopes);
    await this.limiter.reset(scopes[0]!);
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

  private lockedError(lockedMs: number): AuthException {
    const seconds = Math.max(1, Math.ceil(lockedMs / 1000));
    return new AuthException(AuthErrorCode.LoginLocked, undefined, {
      'retry-after': String(seconds),
    });
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
      if (stored.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' };
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

  updateMe(actor: Actor, changes: UpdateMeDto, expectedVersion?: number): Promise<UserEntity> {
    return this.usersService.update(actor, actor.userId, changes, expectedVersion);
  }

  /** Changes the password, ends every session (this one included) and starts a new one. */
  async changePassword(actor: Actor, dto: ChangePasswordDto): Promise<TokenResponse> {
    const user = await this.users.findWithPasswordHash(actor.userId);
    if (!user || !(await this.hasher.verify(user.passwordHash, dto.currentPassword))) {
      await this.audit.record({
        action: 'auth.password_change',
        resourceType: 'user',
        resourceId: actor.userId,
        outcome: 'failure',
        details: { reason: 'wrong-current-password' },
      });
      throw new AuthException(AuthErrorCode.WrongCurrentPassword);
    }
    const passwordHash = await this.hasher.hash(dto.newPassword);
    const { updated, pair } = await this.sessions.transaction(async (manager) => {
      const changed = await this.users.update(
        user.id,
        { passwordHash, bumpTokenVersion: true },
        undefined,
        manager,
      );
      await this.sessions.revokeAllOfUser(user.id, manager);
      const tokens = await this.tokens.issue(changed!, undefined, manager);
      await this.audit.record(
        { action: 'auth.password_change', resourceType: 'user', resourceId: user.id },
        manager,
      );
      return { updated: changed!, pair: tokens };
    });
    return { ...pair, user: UserResponse.from(updated) };
  }
}
