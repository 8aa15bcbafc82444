import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import type {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { InjectRedis } from '../core/redis/redis.module';
import { NotificationResponse } from './dto/notification.dto';
import type { NotificationRow } from './notifications.repository';

/** Notifications written inside a transaction wait here (on its query runner) for its end. */
const PENDING = Symbol('pendingNotifications');
type RunnerData = { [PENDING]?: NotificationRow[] };

/** Entries kept per user for Last-Event-ID resumes; the table is the record, not this. */
const STREAM_MAX_LEN = 1000;
/** A user nobody streams for stops costing memory a day after their last notification. */
const STREAM_TTL_SECONDS = 24 * 3600;

/** The Redis stream of one user's live notifications. */
export const notificationStreamKey = (userId: string): string => `notifications:${userId}`;

/**
 * Hands committed notifications to the live streams: each user's Redis stream gets an
 * entry per notification AFTER the transaction that wrote it commits (nothing for a
 * rolled-back change), and every API process follows the streams of the users it has
 * open connections for (SharedStreamReader). A process that dies between the commit and
 * the XADD loses only the live push; the notification is in the table and the list.
 */
@Injectable()
export class NotificationFeed implements EntitySubscriberInterface {
  private readonly logger = new Logger(NotificationFeed.name);

  constructor(
    @InjectRedis() private readonly redis: Redis,
    @InjectDataSource() dataSource: DataSource,
  ) {
    dataSource.subscribers.push(this);
  }

  /** Sends `rows` once `manager`'s transaction commits, or now when it has none. */
  afterCommit(rows: NotificationRow[], manager: EntityManager): void {
    if (rows.length === 0) return;
    const runner = manager.queryRunner;
    if (runner?.isTransactionActive) {
      const data = runner.data as RunnerData;
      (data[PENDING] ??= []).push(...rows);
      return;
    }
    this.send(rows);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const rows = this.take(event.queryRunner);
    if (rows) this.send(rows);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.take(event.queryRunner);
  }

  private take(runner: QueryRunner): NotificationRow[] | undefined {
    if (runner.isTransactionActive) return undefined; // a savepoint, not the end
    const data = runner.data as RunnerData;
    const rows = data[PENDING];
    delete data[PENDING];
    return rows;
  }

  private send(rows: NotificationRow[]): void {
    const pipeline = this.redis.pipeline();
    for (const row of rows) {
      const key = notificationStreamKey(row.userId);
      pipeline.xadd(
        key,
        'MAXLEN',
        '~',
        String(STREAM_MAX_LEN),
        '*',
        'n',
        JSON.stringify(NotificationResponse.from(row)),
      );
      pipeline.expire(key, STREAM_TTL_SECONDS);
    }
    pipeline
      .exec()
      .catch((error: unknown) =>
        this.logger.warn({ err: String(error) }, 'could not push notifications to live streams'),
      );
  }
}
