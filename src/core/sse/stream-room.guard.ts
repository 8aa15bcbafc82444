import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { AuthenticatedRequest } from '../security/access.decorators';
import { StreamSlots } from './stream-slots';

/**
 * Refuses a stream beyond SSE_MAX_PER_USER with 429 before the route runs. Nest commits an
 * @Sse() route's 200 and event-stream headers before an async handler settles, so the
 * handler's own refusal (GuardedStreams.open, which takes the slot atomically) would reach
 * the client as a 200 that ends at once; a guard runs before any of that.
 */
@Injectable()
export class StreamRoomGuard implements CanActivate {
  constructor(private readonly slots: StreamSlots) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.user) await this.slots.assertRoom(request.user.userId);
    return true;
  }
}
