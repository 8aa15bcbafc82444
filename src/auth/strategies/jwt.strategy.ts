import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { createPublicKey, createSecretKey } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../../core/config/app-config';
import type { Actor } from '../../core/security/actor';
import type { AccessClaims } from '../tokens.service';
import { UsersRepository } from '../users.repository';
import { actorOf } from './principal';

/**
 * Bearer access tokens. The algorithm is pinned (no `alg: none`, no HS/RS confusion);
 * every request re-reads the user so deactivation, role changes, password changes
 * (tokenVersion) and logout (revoked session) take effect at once.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: AppConfig,
    private readonly users: UsersRepository,
  ) {
    const algorithm = config.get('JWT_ALGORITHM');
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      algorithms: [algorithm],
      // A key object made once: given a string, jsonwebtoken tries to parse it as a public
      // key on every verify (~0.4 ms of CPU per request, the largest cost of an authenticated
      // request in bench:api). passport-jwt's types predate KeyObject; jsonwebtoken takes it.
      secretOrKey: (algorithm === 'HS256'
        ? createSecretKey(Buffer.from(config.get('JWT_SECRET')!))
        : createPublicKey(config.get('JWT_PUBLIC_KEY')!)) as unknown as string,
    });
  }

  async validate(claims: Partial<AccessClaims>): Promise<Actor | false> {
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
