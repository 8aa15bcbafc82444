import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { WebhookDeliveryAttemptEntity } from './entities/webhook-delivery-attempt.entity';
import { WebhookDeliveryEntity, WebhookDeliveryStatus } from './entities/webhook-delivery.entity';

export interface NewDelivery {
  webhookId: string;
  eventType: string;
  payload: Record<string, unknown>;
}

/** A delivery taken for one attempt, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  webhookId: string;
  /** The number of the attempt being made (1-based). */
  attempt: number;
  payload: Record<string, unknown>;
  url: string;
  secret: string;
  enabled: boolean;
  /** The endpoint's failure streak when the attempt started (a success resets it). */
  consecutiveFailures: number;
}

/** What an attempt changed: the delivery's new state and the attempt's record. */
export interface AttemptRecord {
  id: string;
  attempt: number;
  status: WebhookDeliveryStatus;
  nextAttemptAt: Date | null;
  startedAt: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

/** The `webhook_deliveries` and `webhook_delivery_attempts` tables. */
@Injectable()
export class WebhookDeliveriesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(WebhookDeliveryEntity);
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** One statement for any number of rows; due at once. Returns the new ids in order. */
  async insertMany(rows: readonly NewDelivery[], manager: EntityManager): Promise<string[]> {
    if (rows.length === 0) return [];
    const inserted: { id: string }[] = await manager.query(
      `INSERT INTO webhook_deliveries (webhook_id, event_type, payload, next_attempt_at)
       SELECT w, t, p, now() FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS r(w, t, p)
       RETURNING id`,
      [
        rows.map((r) => r.webhookId),
        rows.map((r) => r.eventType),
        rows.map((r) => JSON.stringify(r.payload)),
      ],
    );
    return inserted.map((row) => row.id);
  }

  listOfWebhook(
    webhookId: string,
    filter: { status?: WebhookDeliveryStatus; offset: number; limit: number },
  ): Promise<[WebhookDeliveryEntity[], number]> {
    return this.repo().findAndCount({
      where: { webhookId, ...(filter.status ? { status: filter.status } : {}) },
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: filter.offset,
      take: filter.limit,
    });
  }

  findOfWebhook(
    webhookId: string,
    id: string,
    manager?: EntityManager,
  ): Promise<WebhookDeliveryEntity | null> {
    return this.repo(manager).findOneBy({ webhookId, id });
  }

  attemptsOf(deliveryId: string): Promise<WebhookDeliveryAttemptEntity[]> {
    return this.dataSource.manager
      .getRepository(WebhookDeliveryAttemptEntity)
      .find({ where: { deliveryId }, order: { attempt: 'ASC' } });
  }

  /**
   * Takes the due, unlocked, pending deliveries among `ids` for one attempt each: the lock
   * keeps a second job (a sweep's, a duplicate) from sending them at the same time, and the
   * attempt is counted before the request goes out (at least once, never silently twice).
   */
  async claim(ids: readonly string[], lockMs: number): Promise<ClaimedDelivery[]> {
    // An UPDATE … RETURNING comes back from TypeORM as [rows, affected].
    const [rows] = await this.dataSource.query<[ClaimedDelivery[], number]>(
      `UPDATE webhook_deliveries d
          SET locked_until = now() + make_interval(secs => $2::double precision / 1000),
              attempts = d.attempts + 1
         FROM webhooks w
        WHERE d.id = ANY($1::uuid[]) AND w.id = d.webhook_id
          AND d.status = 'pending'
          AND d.next_attempt_at <= now() + interval '2 seconds'
          AND (d.locked_until IS NULL OR d.locked_until < now())
       RETURNING d.id, d.webhook_id AS "webhookId", d.attempts AS attempt, d.payload,
                 w.url, w.secret, w.enabled, w.consecutive_failures AS "consecutiveFailures"`,
      [ids, lockMs],
    );
    return rows;
  }

  /**
   * The outcomes of a batch of attempts: deliveries updated and attempts appended in one
   * statement (one round trip, atomic without a transaction of its own).
   */
  async record(records: readonly AttemptRecord[], manager?: EntityManager): Promise<void> {
    if (records.length === 0) return;
    const column = <K extends keyof AttemptRecord>(key: K) => records.map((r) => r[key]);
    await (manager ?? this.dataSource.manager).query(
      `WITH r AS (
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[],
                              $5::timestamptz[], $6::int[], $7::text[], $8::int[], $9::text[])
                  AS r(id, attempt, status, next_at, started_at, code, error, duration, body)
       ), updated AS (
         UPDATE webhook_deliveries d
            SET status = r.status, last_status_code = r.code, last_error = r.error,
                duration_ms = r.duration, next_attempt_at = r.next_at, locked_until = NULL,
                delivered_at = CASE WHEN r.status = 'delivered' THEN now() ELSE d.delivered_at END
           FROM r
          WHERE d.id = r.id
       )
       INSERT INTO webhook_delivery_attempts
              (delivery_id, attempt, started_at, status_code, error, duration_ms, response_body)
       SELECT id, attempt, started_at, code, error, duration, body FROM r
       ON CONFLICT DO NOTHING`,
      [
        column('id'),
        column('attempt'),
        column('status'),
        column('nextAttemptAt'),
        column('startedAt'),
        column('statusCode'),
        column('error'),
        column('durationMs'),
        column('responseBody'),
      ],
    );
  }

  /** Pending deliveries due for longer than `overdueMs` and not in flight, oldest first. */
  async overdue(overdueMs: number, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM webhook_deliveries
        WHERE status = 'pending'
          AND next_attempt_at < now() - make_interval(secs => $1::double precision / 1000)
          AND (locked_until IS NULL OR locked_until < now())
        ORDER BY next_attempt_at
        LIMIT $2`,
      [overdueMs, limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * Makes a delivery pending and due now, keeping its id (the receiver deduplicates on it)
   * and its attempt count. False while an attempt of it is in flight.
   */
  async makeDue(id: string, manager: EntityManager): Promise<boolean> {
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update()
      .set({ status: 'pending', nextAttemptAt: () => 'now()' })
      .where('id = :id AND (locked_until IS NULL OR locked_until < now())', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
