import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { UserEntity } from './entities/user.entity';
import { SessionsRepository } from './sessions.repository';

/** Claims of an access token. `sid` names the session (refresh-token family). */
export interface AccessClaims {
  sub: string;
  role: string;
  tokenVersion: number;
  sid: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Parses `<uuid>.<secret>`; null when the shape is wrong. */
export function parseRefreshToken(token: string): { id: string; secret: string } | null {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

export function secretMatches(secret: string, storedHash: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(secret)), Buffer.from(storedHash));
}

@Injectable()
export class TokensService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    private readonly sessions: SessionsRepository,
    private readonly clock: Clock,
  ) {}

  /** Issues an access token and a new refresh token in `familyId` (a new session when omitted). */
  async issue(
    user: Pick<UserEntity, 'id' | 'role' | 'tokenVersion'>,
    familyId: string = randomUUID(),
    manager?: EntityManager,
  ): Promise<TokenPair> {
    const id = randomUUID();
    const secret = randomBytes(32).toString('base64url');
    const ttlDays = this.config.get('REFRESH_TOKEN_TTL_DAYS');
    await this.sessions.insert(
      {
        id,
        userId: user.id,
        familyId,
        tokenHash: sha256Hex(secret),
        expiresAt: this.clock.fromNow(ttlDays * 86_400_000),
      },
      manager,
    );
    const claims: AccessClaims = {
      sub: user.id,
      role: user.role,
      tokenVersion: user.tokenVersion,
      sid: familyId,
    };
    const expiresIn = this.config.get('ACCESS_TOKEN_TTL_SECONDS');
    // `iat` from the Clock: jsonwebtoken derives `exp` from it, and JwtStrategy checks `exp`
    // against the same Clock, so a token's lifetime follows one source of time.
    const iat = Math.floor(this.clock.nowMs() / 1000);
    return {
      accessToken: await this.jwt.signAsync({ ...claims, iat }, { expiresIn }),
      refreshToken: `${id}.${secret}`,
      expiresIn,
    };
  }
}
