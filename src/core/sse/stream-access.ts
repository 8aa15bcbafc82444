import {
  createParamDecorator,
  ExecutionContext,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyRequest } from 'fastify';
import { AccessGuard } from '../security/access.guard';
import type { Actor } from '../security/actor';

/**
 * The request context of a stream route, kept so its access can be decided again later
 * exactly as it was at connect: `@StreamContext() context: ExecutionContext`.
 */
export const StreamContext = createParamDecorator(
  (_: unknown, context: ExecutionContext): ExecutionContext =>
    new ExecutionContextHost(context.getArgs(), context.getClass(), context.getHandler()),
);

/** The session (refresh-token family) id an access token names, if any. */
function sessionOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const token = typeof header === 'string' ? /^Bearer (.+)$/i.exec(header)?.[1] : undefined;
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    // Already verified by the guard; only read here to know which tag to watch.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      sid?: unknown;
    };
    return typeof claims.sid === 'string' && /^[0-9a-f-]{36}$/.test(claims.sid)
      ? claims.sid
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The one place a live stream's access is decided again: by running the route's own
 * AccessGuard on the request that opened it (credential → principal through the same
 * passport strategies, the route's permission, and the resource check through the same
 * resolver). A principal that is gone (deactivated, token version bumped, session or API
 * key revoked, token expired), a permission the role no longer grants, or a resource no
 * longer visible all end the stream. Any other failure ends it too (fail closed): the
 * client reconnects with Last-Event-ID and misses nothing.
 */
@Injectable()
export class StreamAccess {
  private readonly logger = new Logger(StreamAccess.name);

  constructor(private readonly guard: AccessGuard) {}

  async allows(context: ExecutionContext): Promise<boolean> {
    try {
      return await this.guard.recheck(context);
    } catch (error) {
      if (!(error instanceof HttpException))
        this.logger.warn({ err: String(error) }, 'stream access re-check failed; ending it');
      return false;
    }
  }

  /** Invalidation tags of the caller's principal: any of them may change the decision. */
  principalTags(context: ExecutionContext, actor: Actor): string[] {
    const session = sessionOf(context.switchToHttp().getRequest<FastifyRequest>());
    return [
      `user:${actor.userId}`,
      ...(session ? [`session:${session}`] : []),
      ...(actor.apiKeyId ? [`api-key:${actor.apiKeyId}`] : []),
    ];
  }
}
