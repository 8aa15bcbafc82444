import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `notification-retention` queue. */
export enum NotificationJobName {
  /** Delete notifications read more than NOTIFICATION_RETENTION_DAYS ago. */
  Purge = 'notification-purge',
}

export type NotificationJobData = RequestedJobData;

export const NOTIFICATION_RETENTION_SCHEDULER_ID = 'notification-retention-hourly';

/** Hourly: a day's read notifications go in small batches rather than one nightly burst. */
export const NOTIFICATION_RETENTION_EVERY_MS = 3600_000;

export const NOTIFICATION_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 30_000 },
  removeOnComplete: { age: 24 * 3600, count: 100 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};
