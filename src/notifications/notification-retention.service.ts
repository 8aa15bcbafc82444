import { Injectable } from '@nestjs/common';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { NotificationsRepository } from './notifications.repository';

/** Read notifications are deleted in batches of this many rows (short transactions). */
const RETENTION_BATCH = 5_000;

/** Retention of read notifications (NOTIFICATION_RETENTION_DAYS); unread ones are kept. */
@Injectable()
export class NotificationRetentionService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Deletes notifications read more than NOTIFICATION_RETENTION_DAYS ago; returns how many. */
  async purgeRead(): Promise<number> {
    const days = this.config.get('NOTIFICATION_RETENTION_DAYS');
    const cutoff = this.clock.fromNow(-days * 24 * 3600 * 1000);
    let total = 0;
    for (;;) {
      const deleted = await this.notifications.deleteReadBefore(cutoff, RETENTION_BATCH);
      total += deleted;
      if (deleted < RETENTION_BATCH) return total;
    }
  }
}
