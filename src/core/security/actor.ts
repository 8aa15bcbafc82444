import type { Permission } from './permissions';

/** The authenticated caller of a request, resolved once by the access guard. */
export interface Actor {
  userId: string;
  username: string;
  role: string;
  /** Effective grants: the role's and its ancestors', wildcards kept as written. */
  grants: readonly string[];
  /** How the caller authenticated; `cli` for operator commands run on the server. */
  via: 'access-token' | 'api-key' | 'cli';
  apiKeyId?: string;
  /** The session (refresh-token family) an access token belongs to, when it names one. */
  sessionId?: string;
}

export type { Permission };
