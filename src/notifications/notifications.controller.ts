import {
  Controller,
  ExecutionContext,
  Get,
  Headers,
  HttpCode,
  Post,
  Query,
  Sse,
  SseSignal,
  UseGuards,
} from '@nestjs/common';
import { StreamRoomGuard } from '../core/sse/stream-room.guard';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { CursorPage } from '../core/http/pagination';
import { UuidParam } from '../core/http/uuid-param';
import { Authenticated, CurrentActor } from '../core/security/access.decorators';
import type { Actor } from '../core/security/actor';
import { GuardedStreams } from '../core/sse/guarded-streams';
import { StreamContext } from '../core/sse/stream-access';
import {
  NotificationResponse,
  NotificationsQuery,
  ReadAllResponse,
  UnreadCountResponse,
} from './dto/notification.dto';
import { NotificationsService } from './notifications.service';

/** The caller's own notifications: the user is always the actor, never a parameter. */
@ApiTags('notifications')
@ApiBearerAuth()
@Controller('me/notifications')
export class NotificationsController {
  constructor(
    private readonly notifications: NotificationsService,
    private readonly streams: GuardedStreams,
  ) {}

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'List my notifications, newest first' })
  list(
    @CurrentActor() actor: Actor,
    @Query() query: NotificationsQuery,
  ): Promise<CursorPage<NotificationResponse>> {
    return this.notifications.list(actor.userId, query);
  }

  @Get('unread-count')
  @Authenticated()
  @ApiOkResponse({ type: UnreadCountResponse })
  @ApiOperation({ summary: 'Count my unread notifications' })
  async unreadCount(@CurrentActor() actor: Actor): Promise<UnreadCountResponse> {
    return { count: await this.notifications.unreadCount(actor.userId) };
  }

  @Post('read-all')
  @Authenticated()
  @HttpCode(200)
  @ApiOkResponse({ type: ReadAllResponse })
  @ApiOperation({ summary: 'Mark all my notifications read' })
  async readAll(@CurrentActor() actor: Actor): Promise<ReadAllResponse> {
    return { count: await this.notifications.markAllRead(actor.userId) };
  }

  @Post(':id/read')
  @Authenticated()
  @HttpCode(200)
  @ApiOkResponse({ type: NotificationResponse })
  @ApiOperation({ summary: 'Mark one of my notifications read (404 for anyone else’s)' })
  markRead(@CurrentActor() actor: Actor, @UuidParam() id: string): Promise<NotificationResponse> {
    return this.notifications.markRead(actor.userId, id);
  }

  /**
   * The caller's new notifications as they are committed; event name = type, resumable
   * with Last-Event-ID. Ends when the caller's session or account is revoked.
   */
  @Sse('stream')
  @UseGuards(StreamRoomGuard)
  @Authenticated()
  @ApiOperation({ summary: 'Stream my new notifications (server-sent events)' })
  async stream(
    @CurrentActor() actor: Actor,
    @StreamContext() context: ExecutionContext,
    @SseSignal() signal: AbortSignal,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<Observable<{ id: string; type: string; data: NotificationResponse }>> {
    const cursor = await this.notifications.streamStart(actor.userId, lastEventId);
    return this.streams.open({
      context,
      actor,
      signal,
      resourceTags: () => Promise.resolve([]),
      source: this.notifications.stream(actor.userId, cursor),
    });
  }
}
