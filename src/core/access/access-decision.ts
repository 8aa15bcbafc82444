import type { Actor } from '../security/actor';
import { grants } from '../security/permissions';

/** Kinds of resource whose visibility follows case (or conversation) membership. */
export type ResourceKind = 'case' | 'conversation' | 'audio' | 'transcription';

/**
 * The caller's standing on a resource: its case participant role (audio and
 * transcriptions take their case's), or on a conversation its conversation participant
 * role (`owner`, `member`, `viewer`), else the role its linked case lends (a case lead
 * counts as `member` there: managing a conversation is for its owners).
 */
export type Participation = 'lead' | 'owner' | 'member' | 'viewer';

/**
 * What the repository answers per id: `undefined` (absent) when the resource does not
 * exist or is deleted, `null` when it exists but the caller does not participate.
 */
export type Standing = Participation | null | undefined;

/** How much of a resource a route needs: read it, change it, or manage its membership. */
export type AccessLevel = 'read' | 'write' | 'manage';

/** `invisible` answers 404 (existence never leaks); `forbidden` 403. */
export type AccessDecision = 'invisible' | 'forbidden' | 'allowed';

/** Who a list or search query shows rows to: filters built by `access.predicates`. */
export interface AccessScope {
  actorId: string;
  /** Holds cases:all: every live case and conversation is visible. */
  seesAll: boolean;
}

const LEVEL_ALLOWS: Record<AccessLevel, readonly Participation[]> = {
  read: ['lead', 'owner', 'member', 'viewer'],
  write: ['lead', 'owner', 'member'],
  manage: ['lead', 'owner'],
};

/** Who the guard's resource step looks at: an actor, or a user explained (explain). */
export type AccessSubject = Pick<Actor, 'userId' | 'grants'>;

/** The one place `cases:all` is read. */
export function accessScope(actor: AccessSubject): AccessScope {
  return { actorId: actor.userId, seesAll: grants(actor.grants, 'cases:all') };
}

/**
 * Who may do what to a resource, for the guard and for services alike: a resource that
 * does not exist is invisible; a holder of cases:all may do anything to an existing
 * one; otherwise the caller must participate (else invisible) with a role that allows
 * `level` (else forbidden). Lists agree with `read` through `visibleCases` /
 * `visibleConversations` (property-tested in test/integration/access).
 */
export function decide(
  actor: AccessSubject | AccessScope,
  standing: Standing,
  level: AccessLevel,
): AccessDecision {
  if (standing === undefined) return 'invisible';
  const scope = 'grants' in actor ? accessScope(actor) : actor;
  if (scope.seesAll) return 'allowed';
  if (standing === null) return 'invisible';
  return LEVEL_ALLOWS[level].includes(standing) ? 'allowed' : 'forbidden';
}
