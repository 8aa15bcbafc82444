import {
  createParamDecorator,
  ExecutionContext,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
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
  principalTags(actor: Actor): string[] {
    return [
      `user:${actor.userId}`,
      // The session the access token names, as the JWT strategy resolved it.
      ...(actor.sessionId ? [`session:${actor.sessionId}`] : []),
      ...(actor.apiKeyId ? [`api-key:${actor.apiKeyId}`] : []),
    ];
  }
}
