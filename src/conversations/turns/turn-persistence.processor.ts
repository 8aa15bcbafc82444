import { Processor } from '@nestjs/bullmq';
import { OnApplicationBootstrap } from '@nestjs/common';
import { Job } from 'bullmq';
import { RequestedJobData } from '../../core/queue/job-data';
import { JobHandlers, JobProcessor } from '../../core/queue/job-processor';
import { QueueName } from '../../core/queue/queue-names';
import { ConversationsService } from '../conversations.service';
import { FlushScheduler } from './flush-scheduler';
import { SealJobData, TurnJobName } from './turn-persistence.jobs';
import { DrainResult, TurnPersistenceService } from './turn-persistence.service';

const SWEEP_EVERY_MS = 5000;

/**
 * The turn-persistence queue. Concurrency 1 per process: one consumer name per process
 * owns its pending entries; more throughput comes from more worker processes.
 */
@Processor(QueueName.TurnPersistence, { concurrency: 1 })
export class TurnPersistenceProcessor
  extends JobProcessor<TurnJobName, Partial<SealJobData>>
  implements OnApplicationBootstrap
{
  protected readonly queueName = QueueName.TurnPersistence;
  protected readonly jobNames = Object.values(TurnJobName);
  protected readonly handlers: JobHandlers<TurnJobName, Partial<SealJobData>> = {
    [TurnJobName.Flush]: (job) => this.drain(job),
    [TurnJobName.Sweep]: (job) => this.drain(job),
    [TurnJobName.Seal]: (job) => this.seal(job.data as SealJobData),
  };

  constructor(
    private readonly persistence: TurnPersistenceService,
    private readonly conversations: ConversationsService,
    private readonly scheduler: FlushScheduler,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.scheduleSweep(SWEEP_EVERY_MS);
  }

  private drain(job: Job<RequestedJobData | Partial<SealJobData>>): Promise<DrainResult> {
    return this.persistence.drain(2000, (persisted) => {
      // Progress is informational. Unhandled, its rejection (the job's key gone,
      // e.g. Redis came back empty) killed the whole worker process.
      job.updateProgress(persisted > 0 ? 50 : 0).catch(() => undefined);
    });
  }

  private async seal({ conversationId }: SealJobData): Promise<{ sealed: string }> {
    await this.persistence.drain();
    const pending = await this.conversations.pendingCount(conversationId);
    if (pending > 0)
      throw new Error(`${pending} turns of ${conversationId} still buffered; retrying`);
    const sealed = await this.conversations.seal(conversationId);
    return { sealed: sealed.sealHash ?? '' };
  }
}
