import { ProblemException } from '../core/http/problem.exception';

export enum ConversationsErrorCode {
  NameTaken = 'conversation-name-taken',
  NotActive = 'conversation-not-active',
  JoinRefused = 'join-refused',
  JoinLocked = 'join-locked',
  UnknownCase = 'unknown-case',
  AlreadyParticipant = 'already-participant',
  NotParticipant = 'not-participant',
  LastOwner = 'last-owner',
  UnknownUser = 'unknown-user',
  RevisionContention = 'revision-contention',
}

const DEFINITIONS: Record<
  ConversationsErrorCode,
  { status: number; title: string; detail: string }
> = {
  [ConversationsErrorCode.NameTaken]: {
    status: 409,
    title: 'Conflict',
    detail: 'An active conversation already has this name.',
  },
  [ConversationsErrorCode.NotActive]: {
    status: 409,
    title: 'Conflict',
    detail: 'The conversation has ended; it takes no more turns or changes.',
  },
  [ConversationsErrorCode.JoinRefused]: {
    status: 403,
    title: 'Forbidden',
    detail: 'The name or password is wrong.',
  },
  [ConversationsErrorCode.JoinLocked]: {
    status: 429,
    title: 'Too Many Requests',
    detail: 'Too many failed attempts to join. Try again later.',
  },
  [ConversationsErrorCode.UnknownCase]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'caseId does not name a case you can see.',
  },
  [ConversationsErrorCode.AlreadyParticipant]: {
    status: 409,
    title: 'Conflict',
    detail: 'The user already participates in this conversation; change their role instead.',
  },
  [ConversationsErrorCode.NotParticipant]: {
    status: 404,
    title: 'Not Found',
    detail: 'The user does not participate in this conversation.',
  },
  [ConversationsErrorCode.LastOwner]: {
    status: 409,
    title: 'Conflict',
    detail: 'The last owner of a conversation cannot be removed; make someone else owner first.',
  },
  [ConversationsErrorCode.UnknownUser]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'The user does not exist or is inactive.',
  },
  [ConversationsErrorCode.RevisionContention]: {
    status: 409,
    title: 'Conflict',
    detail: 'The turn is being revised by many clients at once; read it and try again.',
  },
};

export class ConversationsException extends ProblemException {
  constructor(code: ConversationsErrorCode, detail?: string, headers?: Record<string, string>) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail, headers });
  }
}
