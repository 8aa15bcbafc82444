import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import {
  NOTIFICATION_JOB_OPTIONS,
  NOTIFICATION_RETENTION_EVERY_MS,
  NOTIFICATION_RETENTION_SCHEDULER_ID,
  NotificationJobData,
  NotificationJobName,
} from './notification-jobs';
import { NotificationRetentionService } from './notification-retention.service';

/**
 * The `notification-retention` queue: every hour a worker deletes the notifications read
 * more than NOTIFICATION_RETENTION_DAYS ago (unread ones stay). Result: `{ deleted }`.
 */
@Processor(QueueName.NotificationRetention)
export class NotificationRetentionProcessor extends JobProcessor<
  NotificationJobName,
  NotificationJobData
> {
  protected readonly queueName = QueueName.NotificationRetention;
  protected readonly jobNames = Object.values(NotificationJobName);
  protected readonly handlers: JobHandlers<NotificationJobName, NotificationJobData>;

  constructor(
    retention: NotificationRetentionService,
    @InjectQueue(QueueName.NotificationRetention)
    private readonly queue: Queue<NotificationJobData>,
  ) {
    super();
    this.handlers = {
      [NotificationJobName.Purge]: async () => ({ deleted: await retention.purgeRead() }),
    };
  }

  /** Idempotent: every worker upserts the same scheduler. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    await this.queue.upsertJobScheduler(
      NOTIFICATION_RETENTION_SCHEDULER_ID,
      { every: NOTIFICATION_RETENTION_EVERY_MS },
      {
        name: NotificationJobName.Purge,
        data: { requestedBy: null },
        opts: NOTIFICATION_JOB_OPTIONS,
      },
    );
  }
}
