import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { createPublicKey, createSecretKey } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import type { Actor } from '../../core/security/actor';
import type { AccessClaims } from '../tokens.service';
import { UsersRepository } from '../users.repository';
import { actorOf } from './principal';

/**
 * Bearer access tokens. The algorithm is pinned (no `alg: none`, no HS/RS confusion);
 * every request re-reads the user so deactivation, role changes, password changes
 * (tokenVersion) and logout (revoked session) take effect at once. Expiry is checked here
 * against the Clock rather than by jsonwebtoken against the system time, so that every
 * expiry decision (access token, refresh token, API key) follows one source of time.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: AppConfig,
    private readonly users: UsersRepository,
    private readonly clock: Clock,
  ) {
    const algorithm = config.get('JWT_ALGORITHM');
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // `exp` is required and checked in validate() against the Clock; the signature and the
      // pinned algorithm are still verified by jsonwebtoken before validate() runs.
      ignoreExpiration: true,
      algorithms: [algorithm],
      // A key object made once: given a string, jsonwebtoken tries to parse it as a public
      // key on every verify (~0.4 ms of CPU per request, the largest cost of an authenticated
      // request in bench:api). passport-jwt's types predate KeyObject; jsonwebtoken takes it.
      secretOrKey: (algorithm === 'HS256'
        ? createSecretKey(Buffer.from(config.get('JWT_SECRET')!))
        : createPublicKey(config.get('JWT_PUBLIC_KEY')!)) as unknown as string,
    });
  }

  async validate(claims: Partial<AccessClaims & { exp: number }>): Promise<Actor | false> {
    if (typeof claims.exp !== 'number' || Math.floor(this.clock.nowMs() / 1000) >= claims.exp) {
      return false;
    }
    if (typeof claims.sub !== 'string' || typeof claims.tokenVersion !== 'number') return false;
    if (!/^[0-9a-f-]{36}$/.test(claims.sub)) return false;
    const sid =
      typeof claims.sid === 'string' && /^[0-9a-f-]{36}$/.test(claims.sid) ? claims.sid : null;
    const principal = await this.users.findPrincipal(claims.sub, sid);
    if (
      !principal?.isActive ||
      principal.tokenVersion !== claims.tokenVersion ||
      principal.sessionRevoked
    ) {
      return false;
    }
    return actorOf(principal, 'access-token', { sessionId: sid });
  }
}
