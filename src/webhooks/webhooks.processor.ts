import { InjectQueue, Processor } from '@nestjs/bullmq';
import { OnApplicationBootstrap } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import {
  WEBHOOK_SWEEP_JOB_OPTIONS,
  WEBHOOK_SWEEP_MS,
  WEBHOOK_SWEEP_SCHEDULER_ID,
  WebhookDeliverJobData,
  WebhookJobData,
  WebhookJobName,
} from './webhooks.jobs';

/**
 * The `webhooks` queue: `deliver` jobs attempt deliveries (result `{ attempted,
 * delivered }`), and a repeatable `sweep` enqueues pending deliveries that are overdue.
 */
@Processor(QueueName.Webhooks)
export class WebhooksProcessor
  extends JobProcessor<WebhookJobName, WebhookJobData>
  implements OnApplicationBootstrap
{
  protected readonly queueName = QueueName.Webhooks;
  protected readonly jobNames = Object.values(WebhookJobName);
  protected readonly handlers: JobHandlers<WebhookJobName, WebhookJobData>;

  constructor(
    dispatcher: WebhookDispatcher,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.Webhooks) private readonly queue: Queue<WebhookJobData>,
  ) {
    super();
    this.handlers = {
      [WebhookJobName.Deliver]: (job: Job<WebhookJobData>) =>
        dispatcher.deliver((job.data as WebhookDeliverJobData).deliveryIds ?? []),
      [WebhookJobName.Sweep]: () => dispatcher.sweep(),
    };
  }

  /** Idempotent: every worker upserts the same scheduler. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    await this.queue.upsertJobScheduler(
      WEBHOOK_SWEEP_SCHEDULER_ID,
      { every: WEBHOOK_SWEEP_MS },
      { name: WebhookJobName.Sweep, data: { requestedBy: null }, opts: WEBHOOK_SWEEP_JOB_OPTIONS },
    );
  }

  /** Deliveries wait on the network, not the CPU: several jobs run at once. */
  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.get('WEBHOOK_CONCURRENCY');
  }
}
