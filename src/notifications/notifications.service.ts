import { Injectable } from '@nestjs/common';
import { map, Observable } from 'rxjs';
import { Clock } from '../core/clock/clock';
import { CursorPage, cursorPageOf } from '../core/http/pagination';
import { NotFoundProblem, ValidationProblem } from '../core/http/problem.exception';
import { isStreamId } from '../core/sse/stream-ids';
import { SharedStreamReader } from '../core/sse/shared-stream-reader';
import { NotificationResponse, NotificationsQuery } from './dto/notification.dto';
import { notificationStreamKey } from './notification-feed';
import { NotificationsRepository } from './notifications.repository';

/**
 * A user's notifications. Every method takes the user id from the caller (the actor), so
 * another user's notification is simply not found: 404, never 403.
 */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly reader: SharedStreamReader,
    private readonly clock: Clock,
  ) {}

  async list(userId: string, query: NotificationsQuery): Promise<CursorPage<NotificationResponse>> {
    const rows = await this.notifications.listOfUser(userId, {
      after: query.after?.toLowerCase(),
      unread: query.unread ?? false,
      limit: query.limit + 1,
    });
    if (!rows) {
      throw new ValidationProblem([
        { field: 'after', message: 'after must be the id of one of your notifications' },
      ]);
    }
    return cursorPageOf(rows.map(NotificationResponse.from), query.limit);
  }

  unreadCount(userId: string): Promise<number> {
    return this.notifications.unreadCount(userId);
  }

  async markRead(userId: string, id: string): Promise<NotificationResponse> {
    const row = await this.notifications.markRead(id, userId, this.clock.now());
    if (!row) throw new NotFoundProblem('notification');
    return NotificationResponse.from(row);
  }

  markAllRead(userId: string): Promise<number> {
    return this.notifications.markAllRead(userId, this.clock.now());
  }

  /** Where a stream starts: after Last-Event-ID when the client sent one, else from now. */
  async streamStart(userId: string, lastEventId?: string): Promise<string> {
    return isStreamId(lastEventId)
      ? lastEventId
      : this.reader.latestId(notificationStreamKey(userId));
  }

  /** The user's new notifications as Server-Sent Events; the event name is the type. */
  stream(
    userId: string,
    cursor: string,
  ): Observable<{ id: string; type: string; data: NotificationResponse }> {
    return this.reader.follow(notificationStreamKey(userId), cursor).pipe(
      map((entry) => {
        const data = JSON.parse(entry.fields[1]!) as NotificationResponse;
        return { id: entry.id, type: data.type, data };
      }),
    );
  }
}
