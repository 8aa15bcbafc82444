import type { Actor } from './actor';

export type CaseParticipantRole = 'lead' | 'member' | 'viewer';

/**
 * Answers the resource check for case-scoped routes. The cases module provides it
 * under CASE_ACCESS; the guard asks it once per request, lists filter in SQL instead.
 */
export interface CaseAccessResolver {
  /**
   * `undefined` when the case does not exist (or is deleted); otherwise the caller's
   * participation, `null` when it has none.
   */
  participation(actor: Actor, caseId: string): Promise<CaseParticipantRole | null | undefined>;
}

export const CASE_ACCESS = Symbol('CASE_ACCESS');
