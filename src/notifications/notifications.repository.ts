import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { caseParticipantIds } from '../core/access/access.predicates';
import { ReplicaReads } from '../core/database/replica-reads';
import type { DomainEvent } from '../core/events/domain-event';
import { NotificationEntity } from './entities/notification.entity';

/** A stored notification as the API shows it (no `seq`). */
export interface NotificationRow {
  id: string;
  userId: string;
  type: string;
  title: string;
  resourceType: string;
  resourceId: string;
  caseId: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
  readAt: Date | null;
}

interface RawRow {
  id: string;
  user_id: string;
  type: string;
  title: string;
  resource_type: string;
  resource_id: string;
  case_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
  read_at: Date | null;
}

const COLUMNS = `id, user_id, type, title, resource_type, resource_id, case_id, data, created_at, read_at`;

function fromRaw(raw: RawRow): NotificationRow {
  return {
    id: raw.id,
    userId: raw.user_id,
    type: raw.type,
    title: raw.title,
    resourceType: raw.resource_type,
    resourceId: raw.resource_id,
    caseId: raw.case_id,
    data: raw.data,
    createdAt: raw.created_at,
    readAt: raw.read_at,
  };
}

/** The `notifications` table; every read and change is scoped to one user. */
@Injectable()
export class NotificationsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replica: ReplicaReads,
  ) {}

  /**
   * Writes `event`'s notifications in one statement, with the caller's manager (the
   * publishing transaction). Recipients (SPEC section 11): `notifyOnly` when given, else
   * the case's participants and `alsoNotify`; never the actor, never an inactive user,
   * never one who muted the type (`notifications.muted`). Each recipient once.
   */
  async insertFor(event: DomainEvent, manager: EntityManager): Promise<NotificationRow[]> {
    const only = event.notifyOnly !== undefined;
    const listed = (only ? event.notifyOnly : event.alsoNotify) ?? [];
    const raws: RawRow[] = await manager.query(
      `WITH candidates AS (
         SELECT unnest($1::uuid[]) AS user_id
         UNION
         ${caseParticipantIds('$2::uuid')} AND NOT $3::boolean
       ), recipients AS (
         SELECT c.user_id FROM candidates c
           JOIN users u ON u.id = c.user_id AND u.is_active
          WHERE c.user_id IS DISTINCT FROM $4::uuid
            AND NOT EXISTS (
              SELECT 1 FROM user_settings s
               WHERE s.user_id = c.user_id AND s.key = 'notifications.muted' AND s.value ? $5::text)
       )
       INSERT INTO notifications (user_id, type, title, resource_type, resource_id, case_id, data, created_at)
       SELECT user_id, $5::text, $6::text, $7::text, $8::text, $2::uuid, $9::jsonb, $10::timestamptz
         FROM recipients
       RETURNING ${COLUMNS}`,
      [
        listed,
        event.caseId,
        only,
        event.actorId,
        event.type,
        event.title.slice(0, 300),
        event.resourceType,
        event.resourceId,
        JSON.stringify(event.data),
        event.occurredAt,
      ],
    );
    return raws.map(fromRaw);
  }

  /**
   * A user's notifications, newest first, after (older than) the notification `after`.
   * Returns null when `after` is not one of the user's notifications. A list: read from a
   * replica when there is one (SPEC section 12), the cursor with it. The unread count and
   * the marks stay on the primary (a client reads the count right after marking).
   */
  listOfUser(
    userId: string,
    options: { after?: string; unread: boolean; limit: number },
  ): Promise<NotificationRow[] | null> {
    return this.replica.read(async (manager) => {
      const params: unknown[] = [userId, options.limit];
      let before = '';
      if (options.after) {
        const cursor: { seq: string }[] = await manager.query(
          `SELECT seq FROM notifications WHERE id = $1 AND user_id = $2`,
          [options.after, userId],
        );
        if (!cursor[0]) return null;
        params.push(cursor[0].seq);
        before = `AND seq < $3`;
      }
      const raws: RawRow[] = await manager.query(
        `SELECT ${COLUMNS} FROM notifications
          WHERE user_id = $1 ${options.unread ? 'AND read_at IS NULL' : ''} ${before}
          ORDER BY seq DESC LIMIT $2`,
        params,
      );
      return raws.map(fromRaw);
    });
  }

  async unreadCount(userId: string): Promise<number> {
    const [row]: { count: string }[] = await this.dataSource.query(
      `SELECT count(*) AS count FROM notifications WHERE user_id = $1 AND read_at IS NULL`,
      [userId],
    );
    return Number(row?.count ?? 0);
  }

  /** Marks one of the user's notifications read (kept as it was if it already is). */
  async markRead(id: string, userId: string, at: Date): Promise<NotificationRow | null> {
    // TypeORM answers an UPDATE with [rows, rowCount].
    const [raws]: [RawRow[], number] = await this.dataSource.query(
      `UPDATE notifications SET read_at = COALESCE(read_at, $3)
        WHERE id = $1 AND user_id = $2
        RETURNING ${COLUMNS}`,
      [id, userId, at],
    );
    return raws[0] ? fromRaw(raws[0]) : null;
  }

  /** Returns how many were unread. */
  async markAllRead(userId: string, at: Date): Promise<number> {
    const result = await this.dataSource
      .getRepository(NotificationEntity)
      .createQueryBuilder()
      .update()
      .set({ readAt: at })
      .where('user_id = :userId AND read_at IS NULL', { userId })
      .execute();
    return result.affected ?? 0;
  }

  /** Deletes up to `batch` notifications read before `cutoff`; returns how many. */
  async deleteReadBefore(cutoff: Date, batch: number): Promise<number> {
    const [, count]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM notifications WHERE id IN (
         SELECT id FROM notifications WHERE read_at < $1 LIMIT $2)`,
      [cutoff, batch],
    );
    return count;
  }
}
