import { ProblemException } from '../core/http/problem.exception';

export enum CasesErrorCode {
  DuplicateCaseCode = 'duplicate-case-code',
  IllegalTransition = 'illegal-transition',
  CaseClosed = 'case-closed',
  AlreadyParticipant = 'already-participant',
  NotParticipant = 'not-participant',
  LastLead = 'last-lead',
  UnknownUser = 'unknown-user',
  AlreadyHeld = 'already-held',
  NotHeld = 'not-held',
}

const DEFINITIONS: Record<CasesErrorCode, { status: number; title: string; detail: string }> = {
  [CasesErrorCode.DuplicateCaseCode]: {
    status: 409,
    title: 'Conflict',
    detail: 'A case with this caseCode already exists.',
  },
  [CasesErrorCode.IllegalTransition]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case cannot make this status change.',
  },
  [CasesErrorCode.CaseClosed]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case is closed; reopen it to change it.',
  },
  [CasesErrorCode.AlreadyParticipant]: {
    status: 409,
    title: 'Conflict',
    detail: 'The user already participates in this case.',
  },
  [CasesErrorCode.NotParticipant]: {
    status: 404,
    title: 'Not Found',
    detail: 'The user does not participate in this case.',
  },
  [CasesErrorCode.LastLead]: {
    status: 409,
    title: 'Conflict',
    detail: 'The last lead of a case cannot be removed.',
  },
  [CasesErrorCode.UnknownUser]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'The user does not exist or is inactive.',
  },
  [CasesErrorCode.AlreadyHeld]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case is already under legal hold.',
  },
  [CasesErrorCode.NotHeld]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case is not under legal hold.',
  },
};

export class CasesException extends ProblemException {
  constructor(code: CasesErrorCode, detail?: string) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail });
  }
}
