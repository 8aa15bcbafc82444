import { Module } from '@nestjs/common';
import { AccessGuard } from '../security/access.guard';
import { GuardedStreams } from './guarded-streams';
import { SharedStreamReader } from './shared-stream-reader';
import { StreamAccess } from './stream-access';
import { StreamRoomGuard } from './stream-room.guard';
import { StreamSlots } from './stream-slots';

/**
 * Live responses: access-guarded, capped per user, fed by one Redis connection per
 * process. Import it in the feature module that serves a stream; nothing starts (no
 * connection, no timer) until a stream opens.
 */
@Module({
  // Its own AccessGuard instance: the global one is registered as APP_GUARD only.
  providers: [
    AccessGuard,
    StreamAccess,
    StreamSlots,
    StreamRoomGuard,
    GuardedStreams,
    SharedStreamReader,
  ],
  exports: [GuardedStreams, SharedStreamReader, StreamSlots, StreamRoomGuard],
})
export class SseModule {}
