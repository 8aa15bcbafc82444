import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../../core/config/app-config';
import { InjectRedis } from '../../core/redis/redis.module';
import type { PendingSignIn } from './oidc-client';

/**
 * Started sign-ins, by `state`, in Redis with a TTL (OIDC_STATE_TTL_SECONDS): any API
 * replica can take the callback. Taking is GETDEL, so a state answers once: a replayed
 * callback, or two racing ones, find nothing (exactly one wins).
 */
@Injectable()
export class OidcFlowStore {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly config: AppConfig,
  ) {}

  private key(state: string): string {
    return `oidc:state:${state}`;
  }

  async put(state: string, pending: PendingSignIn): Promise<void> {
    await this.redis.set(
      this.key(state),
      JSON.stringify(pending),
      'EX',
      this.config.get('OIDC_STATE_TTL_SECONDS'),
    );
  }

  async take(state: string): Promise<PendingSignIn | null> {
    const raw = await this.redis.getdel(this.key(state));
    return raw ? (JSON.parse(raw) as PendingSignIn) : null;
  }
}
