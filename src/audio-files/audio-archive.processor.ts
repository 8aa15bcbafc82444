import { OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { UsageService } from '../audit/usage.service';
import { GroupCommit } from '../core/database/group-commit';
import { jobRequestId } from '../core/queue/job-data';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import { AudioArchiveService } from './audio-archive.service';
import { AudioJobData, AudioJobName } from './audio-jobs';

/** Four files move at once: the work is I/O, and two cores hash comfortably. */
const CONCURRENCY = 4;

/**
 * The `audio-archive` queue: archive, restore, delete and verify. Only dispatches to
 * AudioArchiveService; every job name has a handler, checked at start-up (JobProcessor).
 */
@Processor(QueueName.AudioArchive, { concurrency: CONCURRENCY })
export class AudioArchiveProcessor extends JobProcessor<AudioJobName, AudioJobData> {
  protected readonly queueName = QueueName.AudioArchive;
  protected readonly jobNames = Object.values(AudioJobName);
  protected readonly handlers: JobHandlers<AudioJobName, AudioJobData>;
  private readonly logger = new Logger(AudioArchiveProcessor.name);
  /** Jobs finished at about the same time count in one write per user, not one each. */
  private readonly succeeded = new GroupCommit<string>(async (users) => {
    const counts = new Map<string, number>();
    for (const user of users) counts.set(user, (counts.get(user) ?? 0) + 1);
    for (const [user, jobs] of counts) await this.usage.increment(user, { jobsSucceeded: jobs });
  });

  constructor(
    private readonly archive: AudioArchiveService,
    private readonly usage: UsageService,
  ) {
    super();
    const progress = (job: Job<AudioJobData>) => (percent: number) =>
      job.updateProgress(Math.max(0, Math.min(100, percent)));
    this.handlers = {
      [AudioJobName.Archive]: (job) => archive.archive(job.data, progress(job)),
      [AudioJobName.Restore]: (job) => archive.restore(job.data, progress(job)),
      [AudioJobName.Delete]: (job) => archive.delete(job.data, progress(job)),
      [AudioJobName.Verify]: (job) => archive.verify(job.data, progress(job)),
    };
  }

  @OnWorkerEvent('completed')
  async onCompleted(job: Job<AudioJobData>): Promise<void> {
    if (job.data.requestedBy) {
      await this.succeeded.submit(job.data.requestedBy).catch(() => undefined);
    }
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job<AudioJobData> | undefined, error: Error): Promise<void> {
    if (!job) return;
    const final =
      job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
    this.logger.warn(
      {
        jobId: job.id,
        name: job.name,
        requestId: jobRequestId(job),
        attempt: job.attemptsMade,
        final,
        err: error.message,
      },
      'audio job failed',
    );
    if (final && job.data.requestedBy) {
      await this.usage.increment(job.data.requestedBy, { jobsFailed: 1 }).catch(() => undefined);
    }
    if (final) {
      await this.archive
        .recordJobFailure(job.name, job.id, job.data, error.message)
        .catch((failure: unknown) =>
          this.logger.warn(
            { err: String(failure), jobId: job.id },
            'could not notify a job failure',
          ),
        );
    }
  }
}
