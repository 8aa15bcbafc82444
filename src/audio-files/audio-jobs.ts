import type { JobsOptions } from 'bullmq';
import type { RequestedJobData } from '../core/queue/job-data';

/** Jobs of the `audio-archive` queue. */
export enum AudioJobName {
  Archive = 'archive',
  Restore = 'restore',
  Delete = 'delete',
  Verify = 'verify',
}

export interface AudioJobData extends RequestedJobData {
  audioId: string;
  /** Archive only: the reason recorded on the file. */
  reason?: string;
  /** Archive only: scheduled by retention, so a legal hold refuses it. */
  retention?: boolean;
}

/** Jobs of the `retention` queue. */
export enum RetentionJobName {
  Sweep = 'retention-sweep',
  /** Stale processing claims back to `queued` (CLAIM_SWEEP_SECONDS). */
  ReleaseClaims = 'release-stale-claims',
}

export type RetentionJobData = RequestedJobData;

/** The repeatable nightly sweep's scheduler id. */
export const RETENTION_SCHEDULER_ID = 'retention-nightly';

/** The repeatable stale-claim release's scheduler id. */
export const CLAIM_RELEASE_SCHEDULER_ID = 'claims-release';

/** A release that fails is simply run again at the next tick; history bounded. */
export const CLAIM_RELEASE_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: 24 * 3600, count: 100 },
  removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
};

/** Explicit retries with exponential backoff (2 s, 4 s, 8 s, ...); history kept for GET /jobs/:id. */
export const AUDIO_JOB_OPTIONS: Record<AudioJobName, JobsOptions> = {
  [AudioJobName.Archive]: { attempts: 5, backoff: { type: 'exponential', delay: 2000 } },
  [AudioJobName.Restore]: { attempts: 5, backoff: { type: 'exponential', delay: 2000 } },
  [AudioJobName.Delete]: { attempts: 5, backoff: { type: 'exponential', delay: 2000 } },
  [AudioJobName.Verify]: { attempts: 3, backoff: { type: 'exponential', delay: 2000 } },
};

export const RETENTION_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 60_000 },
};

/** Kept long enough to be looked up, bounded so Redis does not grow for ever. */
export const JOB_HISTORY: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: 7 * 24 * 3600, count: 50_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 50_000 },
};

/**
 * Deterministic ids: the same request for the same state of a file is one job. The
 * file's version changes with every state change, so a later request is a new job;
 * verify also keys on the last verification, which does not change the version.
 */
export function audioJobId(
  name: AudioJobName,
  audio: { id: string; version: number; verifiedAt: Date | null },
): string {
  const suffix = name === AudioJobName.Verify ? `.${audio.verifiedAt?.getTime() ?? 0}` : '';
  return `${name}.${audio.id}.v${audio.version}${suffix}`;
}
