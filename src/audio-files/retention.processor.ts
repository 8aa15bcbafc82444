import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import { AudioArchiveService } from './audio-archive.service';
import {
  CLAIM_RELEASE_JOB_OPTIONS,
  CLAIM_RELEASE_SCHEDULER_ID,
  JOB_HISTORY,
  RETENTION_JOB_OPTIONS,
  RETENTION_SCHEDULER_ID,
  RetentionJobData,
  RetentionJobName,
} from './audio-jobs';

/**
 * The `retention` queue: a repeatable nightly sweep (RETENTION_CRON) that archives audio
 * of long-closed cases and returns stale processing claims to the queue, and a release of
 * stale claims every CLAIM_SWEEP_SECONDS (result `{ released: [ids] }`).
 */
@Processor(QueueName.Retention)
export class RetentionProcessor extends JobProcessor<RetentionJobName, RetentionJobData> {
  protected readonly queueName = QueueName.Retention;
  protected readonly jobNames = Object.values(RetentionJobName);
  protected readonly handlers: JobHandlers<RetentionJobName, RetentionJobData>;

  constructor(
    archive: AudioArchiveService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.Retention) private readonly retention: Queue<RetentionJobData>,
  ) {
    super();
    this.handlers = {
      [RetentionJobName.Sweep]: (job) => archive.sweep((percent) => job.updateProgress(percent)),
      [RetentionJobName.ReleaseClaims]: () => archive.releaseStaleClaims(),
    };
  }

  /** Idempotent: every worker upserts the same scheduler. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    await this.retention.upsertJobScheduler(
      RETENTION_SCHEDULER_ID,
      { pattern: this.config.get('RETENTION_CRON') },
      {
        name: RetentionJobName.Sweep,
        data: { requestedBy: null },
        opts: { ...RETENTION_JOB_OPTIONS, ...JOB_HISTORY },
      },
    );
    // CLAIM_SWEEP_SECONDS=0 removes it, so a scheduler of an earlier configuration stops too.
    const every = this.config.get('CLAIM_SWEEP_SECONDS');
    if (every === 0) {
      await this.retention.removeJobScheduler(CLAIM_RELEASE_SCHEDULER_ID);
      return;
    }
    await this.retention.upsertJobScheduler(
      CLAIM_RELEASE_SCHEDULER_ID,
      { every: every * 1000 },
      {
        name: RetentionJobName.ReleaseClaims,
        data: { requestedBy: null },
        opts: CLAIM_RELEASE_JOB_OPTIONS,
      },
    );
  }
}
