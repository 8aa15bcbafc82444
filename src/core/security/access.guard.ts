import { isDependencyOutage } from '../database/postgres-errors';
import { ExecutionContext, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  ForbiddenProblem,
  NotFoundProblem,
  UnauthenticatedProblem,
} from '../http/problem.exception';
import { RequestContext } from '../http/request-context';
import { UUID } from '../http/validation-patterns';
import {
  ACCESS_RULE,
  AccessRule,
  AccessLevel,
  AuthenticatedRequest,
  PUBLIC_ROUTE,
} from './access.decorators';
import type { Actor } from './actor';
import { grants, Permission } from './permissions';
import {
  Participation,
  RESOURCE_ACCESS,
  ResourceAccessResolver,
  ResourceKind,
} from './resource-access';

const LEVEL_ALLOWS: Record<AccessLevel, readonly Participation[]> = {
  read: ['lead', 'member', 'viewer'],
  write: ['lead', 'member'],
  manage: ['lead'],
};

/**
 * Deny by default: every route needs a valid access token or API key unless it is
 * `@Public()`. Then the route's declared permission is checked against the role, and
 * for case-scoped routes the case must be visible (else 404) and the caller's
 * participation must allow the action (else 403).
 */
@Injectable()
export class AccessGuard extends AuthGuard(['jwt', 'api-key']) {
  private readonly resolvers = new Map<ResourceKind, ResourceAccessResolver>();

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly requestContext: RequestContext,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    await super.canActivate(context);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const actor = request.user!;
    this.requestContext.setActor(actor);

    const rule =
      this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, targets) ?? {};
    const required =
      rule.permission === undefined ? [] : ([] as Permission[]).concat(rule.permission);
    const missing = required.find((permission) => !grants(actor.grants, permission));
    if (missing) {
      throw new ForbiddenProblem(`Your role does not grant ${missing}.`);
    }
    if (
      rule.anyPermission &&
      !rule.anyPermission.some((permission) => grants(actor.grants, permission))
    ) {
      throw new ForbiddenProblem(`Your role grants none of ${rule.anyPermission.join(', ')}.`);
    }
    if (rule.resource) {
      const params = request.params as Record<string, string | undefined>;
      const level = rule.access ?? (['GET', 'HEAD'].includes(request.method) ? 'read' : 'write');
      await this.checkResource(actor, rule.resource, params[rule.param ?? 'id'], level);
    }
    return true;
  }

  private resolver(kind: ResourceKind): ResourceAccessResolver {
    let resolver = this.resolvers.get(kind);
    if (!resolver) {
      resolver = this.moduleRef.get<ResourceAccessResolver>(RESOURCE_ACCESS[kind], {
        strict: false,
      });
      this.resolvers.set(kind, resolver);
    }
    return resolver;
  }

  /** Invisible → 404 (existence never leaks); visible but not allowed → 403. */
  private async checkResource(
    actor: Actor,
    kind: ResourceKind,
    id: string | undefined,
    level: AccessLevel,
  ): Promise<void> {
    if (!id || !UUID.test(id)) throw new NotFoundProblem(kind);
    const participation = await this.resolver(kind).participation(actor, id);
    if (participation === undefined) throw new NotFoundProblem(kind);
    if (grants(actor.grants, 'cases:all')) return;
    if (participation === null) throw new NotFoundProblem(kind);
    if (!LEVEL_ALLOWS[level].includes(participation)) {
      throw new ForbiddenProblem(
        `As a ${participation} of this ${kind} you cannot ${level === 'manage' ? 'manage' : 'change'} it.`,
      );
    }
  }

  override handleRequest<TUser = Actor>(error: unknown, user: TUser | false): TUser {
    // Postgres or Redis down is not the caller's fault: let it surface as 503.
    if (isDependencyOutage(error)) throw error;
    if (error || !user) throw new UnauthenticatedProblem();
    return user;
  }
}
