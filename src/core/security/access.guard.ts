import { ExecutionContext, Injectable } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  ForbiddenProblem,
  NotFoundProblem,
  UnauthenticatedProblem,
} from '../http/problem.exception';
import { RequestContext } from '../http/request-context';
import {
  ACCESS_RULE,
  AccessRule,
  AuthenticatedRequest,
  CaseAccessLevel,
  PUBLIC_ROUTE,
} from './access.decorators';
import type { Actor } from './actor';
import { CASE_ACCESS, CaseAccessResolver, CaseParticipantRole } from './case-access';
import { grants, Permission } from './permissions';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const LEVEL_ALLOWS: Record<CaseAccessLevel, readonly CaseParticipantRole[]> = {
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
  private caseAccess?: CaseAccessResolver | null;

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
    if (rule.caseParam) {
      const params = request.params as Record<string, string | undefined>;
      const level =
        rule.caseAccess ?? (['GET', 'HEAD'].includes(request.method) ? 'read' : 'write');
      await this.checkCase(actor, params[rule.caseParam], level);
    }
    return true;
  }

  private async checkCase(
    actor: Actor,
    caseId: string | undefined,
    level: CaseAccessLevel,
  ): Promise<void> {
    if (!caseId || !UUID.test(caseId)) throw new NotFoundProblem('case');
    this.caseAccess ??= this.moduleRef.get<CaseAccessResolver>(CASE_ACCESS, { strict: false });
    const participation = await this.caseAccess.participation(actor, caseId);
    if (participation === undefined) throw new NotFoundProblem('case');
    if (grants(actor.grants, 'cases:all')) return;
    if (participation === null) throw new NotFoundProblem('case');
    if (!LEVEL_ALLOWS[level].includes(participation)) {
      throw new ForbiddenProblem(
        `As a ${participation} of this case you cannot ${level === 'manage' ? 'manage' : 'change'} it.`,
      );
    }
  }

  override handleRequest<TUser = Actor>(error: unknown, user: TUser | false): TUser {
    if (error || !user) throw new UnauthenticatedProblem();
    return user;
  }
}
