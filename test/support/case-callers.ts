import TestAgent from 'supertest/lib/agent';
import { Session, userSession } from './app';

/**
 * The callers of the S1 authorization matrices of case-scoped routes: the three kinds of
 * participant, a case worker outside the case, and the roles that see every case.
 */
export type CaseCaller =
  'lead' | 'member' | 'viewer' | 'outsider' | 'supervisor' | 'auditor' | 'processor';

export const CASE_CALLERS: CaseCaller[] = [
  'lead',
  'member',
  'viewer',
  'outsider',
  'supervisor',
  'auditor',
  'processor',
];

const ROLE_OF: Record<CaseCaller, string> = {
  lead: 'case_worker',
  member: 'case_worker',
  viewer: 'case_worker',
  outsider: 'case_worker',
  supervisor: 'supervisor',
  auditor: 'auditor',
  processor: 'processor',
};

/** One logged-in user per caller kind. */
export async function caseCallerSessions(
  http: TestAgent,
  admin: Session,
): Promise<Record<CaseCaller, Session>> {
  const sessions = {} as Record<CaseCaller, Session>;
  for (const caller of CASE_CALLERS)
    sessions[caller] = await userSession(http, admin, ROLE_OF[caller]);
  return sessions;
}
