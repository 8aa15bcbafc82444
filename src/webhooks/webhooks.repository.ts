import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { WebhookEntity } from './entities/webhook.entity';

export type NewWebhook = Pick<
  WebhookEntity,
  'url' | 'description' | 'events' | 'secret' | 'createdBy'
>;
export type WebhookChanges = Partial<
  Pick<
    WebhookEntity,
    'url' | 'description' | 'events' | 'enabled' | 'consecutiveFailures' | 'disabledAt'
  >
>;

/** The `webhooks` table: endpoints and their failure counters. */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(WebhookEntity);
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async insert(webhook: NewWebhook, manager: EntityManager): Promise<WebhookEntity> {
    const saved = await this.repo(manager).save(this.repo(manager).create(webhook));
    return await this.repo(manager).findOneByOrFail({ id: saved.id });
  }

  list(offset: number, limit: number): Promise<[WebhookEntity[], number]> {
    return this.repo().findAndCount({
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  find(id: string, manager?: EntityManager): Promise<WebhookEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Locks the row for the rest of the transaction. */
  lock(id: string, manager: EntityManager): Promise<WebhookEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('w')
      .setLock('pessimistic_write')
      .where('w.id = :id', { id })
      .getOne();
  }

  async update(
    id: string,
    changes: WebhookChanges,
    manager: EntityManager,
  ): Promise<WebhookEntity> {
    if (Object.keys(changes).length > 0) await this.repo(manager).update({ id }, changes);
    return await this.repo(manager).findOneByOrFail({ id });
  }

  async delete(id: string, manager: EntityManager): Promise<boolean> {
    const result = await this.repo(manager).delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** Enabled endpoints subscribed to any of `types` (or to `*`), in the caller's transaction. */
  subscribedTo(
    types: readonly string[],
    manager: EntityManager,
  ): Promise<{ id: string; events: string[] }[]> {
    return manager.query(
      `SELECT id, events FROM webhooks WHERE enabled AND (events && $1::text[] OR '*' = ANY(events))`,
      [types],
    );
  }

  /** A success ends every streak of failures. */
  async resetFailures(ids: readonly string[], manager: EntityManager): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(
      `UPDATE webhooks SET consecutive_failures = 0 WHERE id = ANY($1::uuid[]) AND consecutive_failures <> 0`,
      [ids],
    );
  }

  /**
   * Adds deliveries that failed for good to each endpoint's streak and disables those that
   * reach `limit`; returns the ids disabled by this call.
   */
  async addFailures(
    counts: ReadonlyMap<string, number>,
    limit: number,
    manager: EntityManager,
  ): Promise<string[]> {
    if (counts.size === 0) return [];
    // An UPDATE … RETURNING comes back from TypeORM as [rows, affected].
    const [rows] = await manager.query<[{ id: string; newly_disabled: boolean }[], number]>(
      `WITH f AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS f(id, n)),
            old AS (SELECT w.id, w.enabled FROM webhooks w JOIN f ON f.id = w.id FOR UPDATE OF w)
       UPDATE webhooks w
          SET consecutive_failures = w.consecutive_failures + f.n,
              enabled = w.enabled AND w.consecutive_failures + f.n < $3,
              disabled_at = CASE WHEN w.enabled AND w.consecutive_failures + f.n >= $3
                                 THEN now() ELSE w.disabled_at END
         FROM f, old
        WHERE w.id = f.id AND old.id = f.id
       RETURNING w.id, old.enabled AND NOT w.enabled AS newly_disabled`,
      [[...counts.keys()], [...counts.values()], limit],
    );
    return rows.filter((row) => row.newly_disabled).map((row) => row.id);
  }
}
