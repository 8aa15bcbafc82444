import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `maintenance` queue (SPEC section 12). */
export enum MaintenanceJobName {
  StorageCheck = 'storage-check',
  Purge = 'purge',
  Backup = 'backup',
}

export type MaintenanceJobData = RequestedJobData;

/** Scheduler ids: storage check and purge follow MAINTENANCE_CRON, backups BACKUP_SCHEDULE. */
export const MAINTENANCE_SCHEDULERS = {
  [MaintenanceJobName.StorageCheck]: 'storage-check-nightly',
  [MaintenanceJobName.Purge]: 'purge-nightly',
  [MaintenanceJobName.Backup]: 'backup-scheduled',
} as const;

/** A nightly job retried later the same night; a backup once more after ten minutes. */
export const MAINTENANCE_JOB_OPTIONS: JobsOptions = {
  attempts: 2,
  backoff: { type: 'fixed', delay: 10 * 60_000 },
  removeOnComplete: { age: 30 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 90 * 24 * 3600, count: 1000 },
};
