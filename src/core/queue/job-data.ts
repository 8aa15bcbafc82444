import { RequestContext } from '../http/request-context';

/**
 * What every job payload carries besides its ids: who asked for it (GET /jobs/:id shows a
 * job to its requester or to `queues:admin` holders), and the request id it came from so
 * the job's log lines and audit entries can be traced back. Payloads carry ids, never blobs.
 */
export interface RequestedJobData {
  /** null for jobs the system schedules itself (retention). */
  requestedBy: string | null;
  requestId?: string;
}

/** Job ids are `<name>.<...>`: BullMQ refuses `:` in custom ids. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * The request id for a job's payload: that of the HTTP request (or job, or command)
 * running now, if any.
 */
export function currentRequestId(): Pick<RequestedJobData, 'requestId'> {
  const requestId = RequestContext.current()?.requestId;
  return requestId ? { requestId } : {};
}

/** The request id a job runs under: the one it was asked for in, else `job-<id>`. */
export function jobRequestId(job: { id?: string; data: unknown }): string {
  const data = job.data as Partial<RequestedJobData> | null | undefined;
  return typeof data?.requestId === 'string' && data.requestId !== ''
    ? data.requestId
    : `job-${job.id ?? 'unknown'}`;
}
