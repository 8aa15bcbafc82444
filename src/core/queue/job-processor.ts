import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { RequestContext } from '../http/request-context';
import { jobRequestId } from './job-data';

/** One handler per job name of a queue. */
export type JobHandlers<TName extends string, TData = unknown> = Record<
  TName,
  (job: Job<TData>) => Promise<unknown>
>;

/** The job names of `names` that have no handler in `handlers`. */
export function missingHandlers(
  names: readonly string[],
  handlers: Partial<Record<string, unknown>>,
): string[] {
  return names.filter((name) => typeof handlers[name] !== 'function');
}

/**
 * The one way a queue's processor dispatches jobs: a map from every job name of the
 * queue to its handler. Start-up fails when a job name has no handler (the type checks
 * that too, but a cast or an enum grown at run time would get past it). Every job runs
 * in the context of the request that asked for it, so its log lines and audit entries
 * carry that request id (`job-<id>` for jobs the system schedules itself).
 *
 * Subclasses set `queueName`, `jobNames` (the values of the queue's JobName enum) and
 * `handlers`; one overriding `onModuleInit` calls `super.onModuleInit()` first.
 */
export abstract class JobProcessor<TName extends string, TData = unknown>
  extends WorkerHost
  implements OnModuleInit, BeforeApplicationShutdown
{
  protected abstract readonly queueName: string;
  protected abstract readonly jobNames: readonly TName[];
  protected abstract readonly handlers: JobHandlers<TName, TData>;

  onModuleInit(): void | Promise<void> {
    const missing = missingHandlers(this.jobNames, this.handlers);
    if (missing.length > 0) {
      throw new Error(`No handler for ${this.queueName} jobs: ${missing.join(', ')}`);
    }
  }

  /**
   * Before the shared Redis and Postgres clients close (an order Nest does not promise
   * otherwise): stop taking jobs and let the ones in flight finish. Without this a SIGTERM
   * could close the connections under a running job and fail it half-way (TARGETS R6); a
   * process killed outright leaves its jobs to BullMQ's stalled-job check.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }

  process(job: Job<TData>): Promise<unknown> {
    const handler = (this.handlers as Partial<JobHandlers<string, TData>>)[job.name];
    if (!handler) throw new UnrecoverableError(`No handler for job ${job.name}`);
    return RequestContext.run({ requestId: jobRequestId(job) }, () => handler(job));
  }
}
