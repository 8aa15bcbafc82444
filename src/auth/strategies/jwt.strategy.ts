import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
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
      secretOrKey:
        algorithm === 'HS256' ? config.get('JWT_SECRET')! : config.get('JWT_PUBLIC_KEY')!,
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
    return actorOf(principal, 'access-token');
  }
}
