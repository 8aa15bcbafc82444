import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import {
  AUDIT_CHECKPOINT_JOB_OPTIONS,
  AUDIT_CHECKPOINT_SCHEDULER_ID,
  AuditJobData,
  AuditJobName,
} from './audit-jobs';
import { AuditCheckpointsService } from './audit-checkpoints.service';

/**
 * The `audit-checkpoint` queue: every AUDIT_CHECKPOINT_MINUTES a worker signs the audit
 * chain's head (AuditCheckpointsService.create). Result: `{ checkpointId }`, null when the
 * chain had not moved since the last checkpoint.
 */
@Processor(QueueName.AuditCheckpoint)
export class AuditCheckpointProcessor extends JobProcessor<AuditJobName, AuditJobData> {
  protected readonly queueName = QueueName.AuditCheckpoint;
  protected readonly jobNames = Object.values(AuditJobName);
  protected readonly handlers: JobHandlers<AuditJobName, AuditJobData>;

  constructor(
    checkpoints: AuditCheckpointsService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.AuditCheckpoint) private readonly queue: Queue<AuditJobData>,
  ) {
    super();
    this.handlers = {
      [AuditJobName.Checkpoint]: async () => {
        const checkpoint = await checkpoints.create();
        return { checkpointId: checkpoint?.id ?? null };
      },
    };
  }

  /** Idempotent: every worker upserts the same scheduler, with the configured interval. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    await this.queue.upsertJobScheduler(
      AUDIT_CHECKPOINT_SCHEDULER_ID,
      { every: this.config.get('AUDIT_CHECKPOINT_MINUTES') * 60_000 },
      {
        name: AuditJobName.Checkpoint,
        data: { requestedBy: null },
        opts: AUDIT_CHECKPOINT_JOB_OPTIONS,
      },
    );
  }
}
