import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `conversation-idle` queue. */
export enum ConversationIdleJobName {
  /** End and seal every conversation idle for CONVERSATION_IDLE_MINUTES. */
  Sweep = 'idle-sweep',
}

export type ConversationIdleJobData = RequestedJobData;

/** The repeatable sweep's scheduler id. */
export const CONVERSATION_IDLE_SCHEDULER_ID = 'conversation-idle-every';

/**
 * How often the sweep looks: a conversation ends at most this long after its idle time is
 * up. One indexed query over active conversations when none is idle.
 */
export const CONVERSATION_IDLE_SWEEP_MS = 60_000;

/** Retried with backoff (a sweep that fails half-way is simply run again); history bounded. */
export const CONVERSATION_IDLE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 24 * 3600, count: 100 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};
