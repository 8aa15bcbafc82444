import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { QueueName } from '../core/queue/queue-names';
import { AudioArchiveService } from './audio-archive.service';
import {
  JOB_HISTORY,
  RETENTION_JOB_OPTIONS,
  RETENTION_SCHEDULER_ID,
  RetentionJobData,
  RetentionJobName,
} from './audio-jobs';

/**
 * The `retention` queue: a repeatable nightly sweep (RETENTION_CRON) that archives audio
 * of long-closed cases and returns stale processing claims to the queue.
 */
@Processor(QueueName.Retention)
export class RetentionProcessor
  extends WorkerHost
  implements OnModuleInit, BeforeApplicationShutdown
{
  constructor(
    private readonly archive: AudioArchiveService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.Retention) private readonly queue: Queue<RetentionJobData>,
  ) {
    super();
  }

  /** Idempotent: every worker upserts the same scheduler. */
  async onModuleInit(): Promise<void> {
    await this.queue.upsertJobScheduler(
      RETENTION_SCHEDULER_ID,
      { pattern: this.config.get('RETENTION_CRON') },
      {
        name: RetentionJobName.Sweep,
        data: { requestedBy: null },
        opts: { ...RETENTION_JOB_OPTIONS, ...JOB_HISTORY },
      },
    );
  }

  process(job: Job<RetentionJobData>): Promise<unknown> {
    switch (job.name as RetentionJobName) {
      case RetentionJobName.Sweep:
        return this.archive.sweep((percent) => job.updateProgress(percent));
      default:
        throw new UnrecoverableError(`No handler for job ${job.name}`);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }
}
