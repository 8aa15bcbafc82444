import type { AccessScope } from './access-decision';

/**
 * SQL conditions for "rows the actor may see", used by every list and search query so
 * that lists show exactly what the guard lets through (`decide(…, 'read')`). They test
 * participation only: each query keeps its own liveness conditions (deleted rows).
 *
 * `bind` turns the actor id into a placeholder of the caller's query (`$3`, `:actorId`);
 * it is called at most once, and not at all for a holder of cases:all (no unused
 * parameter). Inner aliases are prefixed `access_` so they never shadow the caller's.
 */
export type BindActor = (actorId: string) => string;

/** Rows whose case (the SQL expression `caseId`) the actor participates in. */
export function visibleCases(scope: AccessScope, caseId: string, bind: BindActor): string {
  if (scope.seesAll) return 'TRUE';
  return `EXISTS (SELECT 1 FROM case_participants access_cp
                   WHERE access_cp.case_id = ${caseId} AND access_cp.user_id = ${bind(scope.actorId)})`;
}

/**
 * The users who see the case `caseId` (an SQL expression) by taking part in it: a case's
 * audience, e.g. the recipients of its notifications. A subquery of `user_id`.
 */
export function caseParticipantIds(caseId: string): string {
  return `SELECT access_cp.user_id FROM case_participants access_cp WHERE access_cp.case_id = ${caseId}`;
}

/**
 * Conversations (table alias `alias`) the actor participates in, or whose live linked
 * case the actor participates in.
 */
export function visibleConversations(scope: AccessScope, alias: string, bind: BindActor): string {
  if (scope.seesAll) return 'TRUE';
  const actor = bind(scope.actorId);
  return `(EXISTS (SELECT 1 FROM conversation_participants access_vp
                    WHERE access_vp.conversation_id = ${alias}.id AND access_vp.user_id = ${actor})
           OR (${alias}.case_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM case_participants access_cp
                   JOIN cases access_k ON access_k.id = access_cp.case_id AND access_k.deleted_at IS NULL
                  WHERE access_cp.case_id = ${alias}.case_id AND access_cp.user_id = ${actor})))`;
}
