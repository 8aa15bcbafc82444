import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `audit-checkpoint` queue. */
export enum AuditJobName {
  Checkpoint = 'audit-checkpoint',
}

export type AuditJobData = RequestedJobData;

/** The repeatable checkpoint's scheduler id (every AUDIT_CHECKPOINT_MINUTES). */
export const AUDIT_CHECKPOINT_SCHEDULER_ID = 'audit-checkpoint-every';

/** Retried with backoff; history bounded so Redis does not grow for ever. */
export const AUDIT_CHECKPOINT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 1000 },
};
