import type { Actor } from '../../core/security/actor';
import type { Principal } from '../users.repository';

export function actorOf(
  principal: Principal,
  via: Actor['via'],
  credential: { apiKeyId?: string; sessionId?: string | null } = {},
): Actor {
  return {
    userId: principal.id,
    username: principal.username,
    role: principal.role,
    grants: principal.grants,
    via,
    ...(credential.apiKeyId ? { apiKeyId: credential.apiKeyId } : {}),
    ...(credential.sessionId ? { sessionId: credential.sessionId } : {}),
  };
}
