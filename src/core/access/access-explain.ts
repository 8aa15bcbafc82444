import { matchingGrant, Permission } from '../security/permissions';
import {
  AccessDecision,
  AccessLevel,
  accessScope,
  decide,
  ResourceKind,
  Standing,
} from './access-decision';

/** What a route demands of its caller's role (the access rule's permission part). */
export interface PermissionRequirement {
  /** Every one of these. */
  permissions: readonly Permission[];
  /** At least one of these, when given. */
  anyPermission?: readonly Permission[];
}

export type PermissionCheck =
  | { ok: true; matched: { permission: Permission; grant: string }[] }
  | { ok: false; message: string; missing: Permission[] };

/**
 * The permission step of every access decision, for the guard and for explain alike:
 * which grant covers each required permission, or the first one none covers.
 */
export function checkPermissions(
  granted: readonly string[],
  requirement: PermissionRequirement,
): PermissionCheck {
  const matched: { permission: Permission; grant: string }[] = [];
  for (const permission of requirement.permissions) {
    const grant = matchingGrant(granted, permission);
    if (grant === undefined) {
      return {
        ok: false,
        message: `Your role does not grant ${permission}.`,
        missing: [permission],
      };
    }
    matched.push({ permission, grant });
  }
  const anyOf = requirement.anyPermission;
  if (anyOf) {
    const hit = anyOf
      .map((permission) => ({ permission, grant: matchingGrant(granted, permission) }))
      .find((candidate) => candidate.grant !== undefined);
    if (!hit) {
      return {
        ok: false,
        message: `Your role grants none of ${anyOf.join(', ')}.`,
        missing: [...anyOf],
      };
    }
    matched.push({ permission: hit.permission, grant: hit.grant! });
  }
  return { ok: true, matched };
}

/** The refusal the guard gives a visible resource whose standing does not allow `level`. */
export function forbiddenMessage(
  kind: ResourceKind,
  participation: Standing,
  level: AccessLevel,
): string {
  return `As a ${participation} of this ${kind} you cannot ${level === 'manage' ? 'manage' : 'change'} it.`;
}

export type ExplainStep = 'account' | 'role' | 'permission' | 'resource';
export type StepOutcome = 'pass' | 'fail' | 'skip';

export interface AccessReason {
  step: ExplainStep;
  outcome: StepOutcome;
  detail: string;
}

/** The guard's answer: 401 (`unauthenticated`), 404 (`invisible`), 403, or let through. */
export type AccessVerdict = AccessDecision | 'unauthenticated';

export interface AccessExplanation {
  allowed: boolean;
  decision: AccessVerdict;
  reasons: AccessReason[];
}

/** The user explained: what the guard knows of a caller once its token is checked. */
export interface ExplainSubject {
  userId: string;
  active: boolean;
  /** Effective grants, exactly as the guard's actor carries them. */
  grants: readonly string[];
  /** The user's role and its ancestors, nearest first, each with its own grants. */
  roles: readonly { name: string; permissions: readonly string[] }[];
  /** How long password sign-in stays locked after repeated failures; 0 when not locked. */
  loginLockedMs: number;
}

export interface ExplainResource {
  kind: ResourceKind;
  standing: Standing;
  level: AccessLevel;
}

const LEVEL_NEEDS: Record<AccessLevel, string> = {
  read: 'lead, member or viewer',
  write: 'lead or member',
  manage: 'lead',
};

/** Conversations have owners where cases have leads. */
const CONVERSATION_LEVEL_NEEDS: Record<AccessLevel, string> = {
  read: 'owner, member or viewer',
  write: 'owner or member',
  manage: 'owner',
};

/**
 * Why the guard would let `subject` through a route with `requirement` on `resource`, or
 * not, step by step. It runs the guard's own functions in the guard's order
 * (authentication, `checkPermissions`, `decide`), so the `decision` is the guard's; the
 * details only add which role and grant decided.
 */
export function explainAccess(
  subject: ExplainSubject,
  requirement: PermissionRequirement,
  resource?: ExplainResource,
): AccessExplanation {
  const reasons: AccessReason[] = [];
  const finish = (decision: AccessVerdict): AccessExplanation => {
    for (const step of ['account', 'role', 'permission', 'resource'] as const) {
      if (!reasons.some((reason) => reason.step === step)) {
        reasons.push({ step, outcome: 'skip', detail: skipDetail(step, decision, resource) });
      }
    }
    return { allowed: decision === 'allowed', decision, reasons };
  };

  const lock =
    subject.loginLockedMs > 0
      ? `password sign-in is locked for ${Math.ceil(subject.loginLockedMs / 1000)} s after repeated failures (tokens and API keys already issued keep working)`
      : 'not locked';
  if (!subject.active) {
    reasons.push({
      step: 'account',
      outcome: 'fail',
      detail: `deactivated: every token and API key of this user is refused (401); ${lock}`,
    });
    return finish('unauthenticated');
  }
  reasons.push({ step: 'account', outcome: 'pass', detail: `active; ${lock}` });

  const [own, ...ancestors] = subject.roles;
  reasons.push({
    step: 'role',
    outcome: 'pass',
    detail:
      `role ${own?.name ?? '(none)'}` +
      (ancestors.length > 0 ? `, inheriting ${ancestors.map((r) => r.name).join(' → ')}` : '') +
      `; effective grants: ${subject.grants.length > 0 ? [...subject.grants].sort().join(', ') : 'none'}`,
  });

  const check = checkPermissions(subject.grants, requirement);
  if (!check.ok) {
    reasons.push({ step: 'permission', outcome: 'fail', detail: `${check.message} (403)` });
    return finish('forbidden');
  }
  reasons.push({
    step: 'permission',
    outcome: 'pass',
    detail:
      check.matched.length === 0
        ? 'no permission required'
        : check.matched
            .map(
              ({ permission, grant }) =>
                `${permission} granted by ${grant === permission ? 'itself' : `wildcard ${grant}`} in role ${roleHolding(subject, grant)}`,
            )
            .join('; '),
  });

  if (!resource) return finish('allowed');
  const decision = decide(accessScope(subject), resource.standing, resource.level);
  reasons.push({
    step: 'resource',
    outcome: decision === 'allowed' ? 'pass' : 'fail',
    detail: resourceDetail(subject, resource, decision),
  });
  return finish(decision);
}

function roleHolding(subject: ExplainSubject, grant: string): string {
  return subject.roles.find((role) => role.permissions.includes(grant))?.name ?? '(unknown)';
}

function resourceDetail(
  subject: ExplainSubject,
  { kind, standing, level }: ExplainResource,
  decision: AccessDecision,
): string {
  if (standing === undefined) return `no such ${kind}, or it is deleted (404)`;
  const all = matchingGrant(subject.grants, 'cases:all');
  if (all !== undefined) {
    return `cases:all (${all === 'cases:all' ? 'granted' : `wildcard ${all}`} in role ${roleHolding(subject, all)}) opens every ${kind}`;
  }
  if (standing === null) return `not a participant of this ${kind} and no cases:all (404)`;
  const needs = (kind === 'conversation' ? CONVERSATION_LEVEL_NEEDS : LEVEL_NEEDS)[level];
  if (decision === 'allowed') return `participant as ${standing}; ${level} needs ${needs}`;
  return `participant as ${standing}; ${level} needs ${needs} (403)`;
}

function skipDetail(
  step: ExplainStep,
  decision: AccessVerdict,
  resource: ExplainResource | undefined,
): string {
  if (step === 'resource' && !resource && decision === 'allowed') return 'no case given';
  return `not reached: decided at an earlier step`;
}
