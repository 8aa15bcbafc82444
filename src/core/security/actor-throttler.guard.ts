import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from './access.decorators';

/** Limits per authenticated user (across replicas, in Redis), per IP for anonymous calls. */
@Injectable()
export class ActorThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(request: Record<string, unknown>): Promise<string> {
    const req = request as unknown as AuthenticatedRequest;
    return Promise.resolve(req.user ? `user:${req.user.userId}` : `ip:${req.ip}`);
  }
}
