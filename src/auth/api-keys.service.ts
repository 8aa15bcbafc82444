import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../core/clock/clock';
import { NotFoundProblem, ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { ApiKeysRepository } from './api-keys.repository';
import { CreateApiKeyDto } from './dto/api-key.dto';
import { ApiKeyEntity } from './entities/api-key.entity';
import { sha256Hex } from './tokens.service';

export const API_KEY_PREFIX = 'vbk_';

/** Names the credential a request was made with, for audit entries (never the secret). */
export function credentialOf(actor: Actor): Record<string, string> {
  switch (actor.via) {
    case 'api-key':
      return { type: 'api-key', ...(actor.apiKeyId ? { apiKeyId: actor.apiKeyId } : {}) };
    case 'access-token':
      return { type: 'access-token', ...(actor.sessionId ? { sessionId: actor.sessionId } : {}) };
    case 'cli':
      return { type: 'cli' };
  }
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /** Keys carry 256 random bits, so a fast hash is as safe as a slow one and keeps lookups cheap. */
  async create(actor: Actor, dto: CreateApiKeyDto): Promise<{ entity: ApiKeyEntity; key: string }> {
    const expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= this.clock.nowMs()) {
      throw new ValidationProblem([
        { field: 'expiresAt', message: 'expiresAt must be in the future' },
      ]);
    }
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const entity = await this.keys.create({
      userId: actor.userId,
      name: dto.name,
      prefix: key.slice(0, 12),
      keyHash: sha256Hex(key),
      expiresAt,
    });
    await this.audit.record({
      action: 'api_key.create',
      resourceType: 'api_key',
      resourceId: entity.id,
      // Which credential minted the key: a session, or (were it ever allowed) another key.
      details: { name: dto.name, createdWith: credentialOf(actor) },
    });
    return { entity, key };
  }

  list(actor: Actor): Promise<ApiKeyEntity[]> {
    return this.keys.listOfUser(actor.userId);
  }

  async get(actor: Actor, id: string): Promise<ApiKeyEntity> {
    const key = await this.keys.findOfUser(id, actor.userId);
    if (!key) throw new NotFoundProblem('API key');
    return key;
  }

  async revoke(actor: Actor, id: string): Promise<void> {
    await this.get(actor, id);
    if (await this.keys.revoke(id, actor.userId)) {
      await this.audit.record({
        action: 'api_key.revoke',
        resourceType: 'api_key',
        resourceId: id,
      });
    }
  }
}
