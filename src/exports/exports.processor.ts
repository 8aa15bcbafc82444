import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue, UnrecoverableError } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import { ExportSourceGoneError } from './export-builder';
import {
  EXPORT_EXPIRE_SCHEDULER_ID,
  EXPORT_JOB_HISTORY,
  EXPORT_JOB_OPTIONS,
  ExportJobData,
  ExportJobName,
} from './export-jobs';
import { ExportsService } from './exports.service';

/**
 * The `case-export` queue: builds requested bundles (result `{ exportId }`) and, every
 * EXPORT_SWEEP_MINUTES, removes expired ones from storage.
 */
@Processor(QueueName.CaseExport)
export class ExportsProcessor extends JobProcessor<ExportJobName, ExportJobData> {
  protected readonly queueName = QueueName.CaseExport;
  protected readonly jobNames = Object.values(ExportJobName);
  protected readonly handlers: JobHandlers<ExportJobName, ExportJobData>;

  constructor(
    exports: ExportsService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.CaseExport) private readonly queue: Queue<ExportJobData>,
  ) {
    super();
    this.handlers = {
      [ExportJobName.Build]: async (job) => {
        if (!job.data.exportId) throw new UnrecoverableError('No exportId in the job');
        const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        try {
          return await exports.build(job.data.exportId, lastAttempt, (percent) =>
            job.updateProgress(percent),
          );
        } catch (error) {
          if (error instanceof ExportSourceGoneError) throw new UnrecoverableError(error.message);
          throw error;
        }
      },
      [ExportJobName.Expire]: () => exports.expire(),
    };
  }

  /** Idempotent: every worker upserts the same scheduler, with the configured interval. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    await this.queue.upsertJobScheduler(
      EXPORT_EXPIRE_SCHEDULER_ID,
      { every: this.config.get('EXPORT_SWEEP_MINUTES') * 60_000 },
      {
        name: ExportJobName.Expire,
        data: { requestedBy: null },
        opts: { ...EXPORT_JOB_OPTIONS[ExportJobName.Expire], ...EXPORT_JOB_HISTORY },
      },
    );
  }
}
