import type { RequestedJobData } from '../../core/queue/job-data';

/** Jobs of the turn-persistence queue. Payloads carry ids only. */
export enum TurnJobName {
  /** Drain the buffer into Postgres; one per flush-delay slot, deduplicated by jobId. */
  Flush = 'flush',
  /** Periodic: reclaim entries of dead workers and drain leftovers. */
  Sweep = 'sweep',
  /** Seal an ended conversation once its buffer is empty. */
  Seal = 'seal',
}

export interface SealJobData extends RequestedJobData {
  conversationId: string;
}

export const TURN_JOB_OPTIONS = {
  attempts: 50,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 1000 },
} as const;
