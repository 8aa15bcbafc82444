import type { Actor } from '../../core/security/actor';
import type { Principal } from '../users.repository';

export function actorOf(principal: Principal, via: Actor['via'], apiKeyId?: string): Actor {
  return {
    userId: principal.id,
    username: principal.username,
    role: principal.role,
    grants: principal.grants,
    via,
    ...(apiKeyId ? { apiKeyId } : {}),
  };
}
