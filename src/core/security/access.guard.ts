import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  ForbiddenProblem,
  NotFoundProblem,
  UnauthenticatedProblem,
} from '../http/problem.exception';
import { AccessLevel, ResourceKind } from '../access/access-decision';
import { checkPermissions, forbiddenMessage } from '../access/access-explain';
import { AccessService } from '../access/access.service';
import { isDependencyOutage } from '../database/postgres-errors';
import { RequestContext } from '../http/request-context';
import { UUID } from '../http/validation-patterns';
import { ACCESS_RULE, AccessRule, AuthenticatedRequest, PUBLIC_ROUTE } from './access.decorators';
import type { Actor } from './actor';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { Permission } from './permissions';

/**
 * Deny by default: every route needs a valid access token or API key unless it is
 * `@Public()`. Then the route's declared permission is checked against the role, and
 * for resource routes AccessService decides (src/core/access): invisible → 404,
 * visible but not allowed → 403.
 */
@Injectable()
export class AccessGuard extends AuthGuard(['jwt', 'api-key']) {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: AccessService,
    private readonly requestContext: RequestContext,
    private readonly authFailures: AuthFailureLimiter,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    // Limited per address before any credential is looked at (F11): see AuthFailureLimiter.
    await this.authFailures.assertAllowed(this.requestContext.ip);
    try {
      return await this.decide(context);
    } catch (error) {
      if (error instanceof UnauthenticatedProblem) {
        await this.authFailures.recordFailure(this.requestContext.ip);
      }
      throw error;
    }
  }

  /**
   * The decision alone, for a request that already passed the guard once: a live stream's
   * re-check. It is not a new request from the client, so the per-address limit on failed
   * authentication neither applies to it nor counts its failure (a revoked stream is not
   * a guess).
   */
  async recheck(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    return this.decide(context);
  }

  private async decide(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    await super.canActivate(context);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const actor = request.user!;
    this.requestContext.setActor(actor);

    const rule =
      this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, targets) ?? {};
    await this.authorize(actor, rule, request);
    return true;
  }

  /**
   * Everything the guard decides once the caller is known: throws the 403 or 404 the
   * route answers, returns when it may pass. Permission explain runs the same steps
   * (`checkPermissions`, `decide`) through `explainAccess`; a property test holds the
   * two to the same verdict.
   */
  async authorize(
    actor: Actor,
    rule: AccessRule,
    request: { method: string; params: unknown },
  ): Promise<void> {
    if (rule.notByApiKey && actor.via === 'api-key') {
      throw new ForbiddenProblem(
        'API keys cannot create API keys or change credentials; sign in with your password to do this.',
      );
    }
    const check = checkPermissions(actor.grants, {
      permissions:
        rule.permission === undefined ? [] : ([] as Permission[]).concat(rule.permission),
      anyPermission: rule.anyPermission,
    });
    if (!check.ok) throw new ForbiddenProblem(check.message);
    if (rule.resource) {
      const params = (request.params ?? {}) as Record<string, string | undefined>;
      const level = rule.access ?? (['GET', 'HEAD'].includes(request.method) ? 'read' : 'write');
      await this.checkResource(actor, rule.resource, params[rule.param ?? 'id'], level);
    }
  }

  /** Invisible → 404 (existence never leaks); visible but not allowed → 403. */
  private async checkResource(
    actor: Actor,
    kind: ResourceKind,
    id: string | undefined,
    level: AccessLevel,
  ): Promise<void> {
    if (!id || !UUID.test(id)) throw new NotFoundProblem(kind);
    const { decision, participation } = await this.access.check(kind, actor, id, level);
    if (decision === 'invisible') throw new NotFoundProblem(kind);
    if (decision === 'forbidden')
      throw new ForbiddenProblem(forbiddenMessage(kind, participation, level));
  }

  override handleRequest<TUser = Actor>(error: unknown, user: TUser | false): TUser {
    // Postgres or Redis down is not the caller's fault: let it surface as 503.
    if (isDependencyOutage(error)) throw error;
    if (error || !user) throw new UnauthenticatedProblem();
    return user;
  }
}
