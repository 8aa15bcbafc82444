import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `case-export` queue. */
export enum ExportJobName {
  Build = 'export-build',
  Expire = 'export-expire',
}

export interface ExportJobData extends RequestedJobData {
  /** Build only. */
  exportId?: string;
}

/** The repeatable expiry sweep's scheduler id (every EXPORT_SWEEP_MINUTES). */
export const EXPORT_EXPIRE_SCHEDULER_ID = 'export-expire-every';

/** One job per export: its id is the export's. */
export const exportJobId = (exportId: string): string => `export.${exportId}`;

export const EXPORT_JOB_OPTIONS: Record<ExportJobName, JobsOptions> = {
  [ExportJobName.Build]: { attempts: 3, backoff: { type: 'exponential', delay: 5000 } },
  [ExportJobName.Expire]: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
};

/** Kept long enough for GET /jobs/:id, bounded so Redis does not grow for ever. */
export const EXPORT_JOB_HISTORY: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
};
