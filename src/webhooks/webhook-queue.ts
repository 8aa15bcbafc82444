import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import { QueueName } from '../core/queue/queue-names';
import {
  DELIVERIES_PER_JOB,
  WEBHOOK_DELIVER_JOB_OPTIONS,
  WebhookDeliverJobData,
  WebhookJobName,
} from './webhooks.jobs';

const COALESCE_MS = 5;

/**
 * Puts deliveries on the `webhooks` queue. Deliveries committed while an enqueue is in
 * flight wait and go together in the next one (up to 100 a job), so a burst of events
 * costs a few Redis round trips instead of one per event. An enqueue that fails is only
 * logged: the rows are in Postgres and the sweep enqueues them once they are overdue.
 */
@Injectable()
export class WebhookQueue implements OnModuleDestroy {
  private readonly logger = new Logger(WebhookQueue.name);
  private waiting: string[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    @InjectQueue(QueueName.Webhooks) private readonly queue: Queue<WebhookDeliverJobData>,
  ) {}

  /** Attempts these deliveries as soon as a worker is free. */
  soon(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.waiting.push(...ids);
    this.flushing ??= this.flush();
  }

  /** The next attempt of each delivery, after its delay; one job per attempt number. */
  async retry(retries: readonly { id: string; attempt: number; delayMs: number }[]): Promise<void> {
    if (retries.length === 0) return;
    try {
      await this.queue.addBulk(
        retries.map(({ id, attempt, delayMs }) => ({
          name: WebhookJobName.Deliver,
          data: { deliveryIds: [id], requestedBy: null },
          opts: { ...WEBHOOK_DELIVER_JOB_OPTIONS, delay: delayMs, jobId: `retry.${id}.${attempt}` },
        })),
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'could not enqueue webhook retries; the sweep will');
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.flushing;
  }

  private async flush(): Promise<void> {
    // A few milliseconds of patience: under load, the commits of that window share a job.
    await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
    while (this.waiting.length > 0) {
      const ids = this.waiting;
      this.waiting = [];
      const jobs = [];
      for (let i = 0; i < ids.length; i += DELIVERIES_PER_JOB) {
        jobs.push({
          name: WebhookJobName.Deliver,
          data: { deliveryIds: ids.slice(i, i + DELIVERIES_PER_JOB), requestedBy: null },
          opts: WEBHOOK_DELIVER_JOB_OPTIONS,
        });
      }
      try {
        await this.queue.addBulk(jobs);
      } catch (error) {
        this.logger.warn({ err: error }, 'could not enqueue webhook deliveries; the sweep will');
      }
    }
    this.flushing = null;
  }
}
