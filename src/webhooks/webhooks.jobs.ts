import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `webhooks` queue. */
export enum WebhookJobName {
  /** Attempt these deliveries now (those still pending and due; others are skipped). */
  Deliver = 'deliver',
  /** Enqueue pending deliveries that are overdue: never enqueued, or their job was lost. */
  Sweep = 'sweep',
}

export interface WebhookDeliverJobData extends RequestedJobData {
  deliveryIds: string[];
}

export type WebhookJobData = WebhookDeliverJobData | RequestedJobData;

/** One job sends at most this many deliveries, in parallel. */
export const DELIVERIES_PER_JOB = 100;

export const WEBHOOK_SWEEP_SCHEDULER_ID = 'webhooks-sweep-every';

/** How often the sweep runs, and how overdue a pending delivery must be for it to act. */
export const WEBHOOK_SWEEP_MS = 15_000;
export const WEBHOOK_OVERDUE_MS = 30_000;

/**
 * A delivery job's own retries cover the database or Redis failing under it (the HTTP
 * outcome is recorded, never thrown). History is short: the delivery log is the record.
 */
export const WEBHOOK_DELIVER_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};

export const WEBHOOK_SWEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { age: 7 * 24 * 3600, count: 100 },
};
