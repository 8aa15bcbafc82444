import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { IncomingMessage } from 'node:http';
import { Strategy } from 'passport-custom';
import { Clock } from '../../core/clock/clock';
import type { Actor } from '../../core/security/actor';
import { ApiKeysRepository } from '../api-keys.repository';
import { API_KEY_PREFIX } from '../api-keys.service';
import { sha256Hex } from '../tokens.service';
import { UsersRepository } from '../users.repository';
import { actorOf } from './principal';

/**
 * `X-API-Key` for machine clients; the key acts with its owner's role while the owner is
 * active and until the key's expiry (decided against the Clock).
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, 'api-key') {
  private readonly logger = new Logger(ApiKeyStrategy.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly keys: ApiKeysRepository,
    private readonly clock: Clock,
  ) {
    super();
  }

  async validate(request: IncomingMessage): Promise<Actor | false> {
    const header = request.headers['x-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (!key || !key.startsWith(API_KEY_PREFIX) || key.length > 128) return false;
    const principal = await this.users.findPrincipalByApiKey(sha256Hex(key));
    if (!principal?.isActive) return false;
    if (principal.apiKeyExpiresAt && principal.apiKeyExpiresAt.getTime() <= this.clock.nowMs()) {
      return false;
    }
    this.keys
      .touch(principal.apiKeyId)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not stamp API key use'));
    return actorOf(principal, 'api-key', { apiKeyId: principal.apiKeyId });
  }
}
