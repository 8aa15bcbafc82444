import { Injectable } from '@nestjs/common';
import type { AccessLevel, Standing } from '../core/access/access-decision';
import { AccessExplanation, explainAccess } from '../core/access/access-explain';
import { AccessService } from '../core/access/access.service';
import { NotFoundProblem } from '../core/http/problem.exception';
import { FailureLimiter } from '../core/security/failure-limiter';
import type { Permission } from '../core/security/permissions';
import { loginAccountScope } from './auth.service';
import { RolesRepository } from './roles.repository';
import { actorOf } from './strategies/principal';
import { UsersRepository } from './users.repository';

export interface ExplainQuestion {
  userId: string;
  caseId?: string;
  permission: Permission;
  access?: AccessLevel;
}

/**
 * GET /admin/access/explain: what the access guard would answer `userId` on a route that
 * requires `permission` on `caseId`. The inputs are read the way the guard reads them
 * (the principal the token strategies load, AccessService's standing) and the verdict is
 * `explainAccess`, which runs the guard's own steps.
 */
@Injectable()
export class AccessExplainService {
  constructor(
    private readonly users: UsersRepository,
    private readonly roles: RolesRepository,
    private readonly access: AccessService,
    private readonly limiter: FailureLimiter,
  ) {}

  async explain(question: ExplainQuestion): Promise<AccessExplanation> {
    const principal = await this.users.findPrincipal(question.userId, null);
    if (!principal) throw new NotFoundProblem('user');
    const actor = actorOf(principal, 'access-token');
    const [roles, loginLockedMs, standing] = await Promise.all([
      this.roleChain(principal.role),
      this.limiter.lockedForMs(loginAccountScope(principal.id)),
      question.caseId
        ? this.access.standing('case', actor, question.caseId)
        : Promise.resolve<Standing>(undefined),
    ]);
    const level = question.access ?? (question.permission.endsWith(':read') ? 'read' : 'write');
    return explainAccess(
      {
        userId: actor.userId,
        active: principal.isActive,
        grants: actor.grants,
        roles,
        loginLockedMs,
      },
      { permissions: [question.permission] },
      question.caseId ? { kind: 'case', standing, level } : undefined,
    );
  }

  private async roleChain(role: string): Promise<{ name: string; permissions: string[] }[]> {
    const names = await this.roles.lineage(role);
    const found = await Promise.all(names.map((name) => this.roles.findByName(name)));
    return found.flatMap((entity) =>
      entity ? [{ name: entity.name, permissions: entity.permissions }] : [],
    );
  }
}
