import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import {
  CONVERSATION_IDLE_JOB_OPTIONS,
  CONVERSATION_IDLE_SCHEDULER_ID,
  CONVERSATION_IDLE_SWEEP_MS,
  ConversationIdleJobData,
  ConversationIdleJobName,
} from './conversation-idle.jobs';
import { ConversationsService } from './conversations.service';

/**
 * The `conversation-idle` queue: every minute a worker ends and seals the conversations
 * that took no turn for CONVERSATION_IDLE_MINUTES (ConversationsService.endIdle).
 * Result: `{ ended: [ids] }`.
 */
@Processor(QueueName.ConversationIdle)
export class ConversationIdleProcessor extends JobProcessor<
  ConversationIdleJobName,
  ConversationIdleJobData
> {
  protected readonly queueName = QueueName.ConversationIdle;
  protected readonly jobNames = Object.values(ConversationIdleJobName);
  protected readonly handlers: JobHandlers<ConversationIdleJobName, ConversationIdleJobData>;

  constructor(
    conversations: ConversationsService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.ConversationIdle)
    private readonly queue: Queue<ConversationIdleJobData>,
  ) {
    super();
    this.handlers = {
      [ConversationIdleJobName.Sweep]: async () => ({ ended: await conversations.endIdle() }),
    };
  }

  /**
   * Idempotent: every worker upserts the same scheduler. With CONVERSATION_IDLE_MINUTES=0
   * it removes it instead, so a scheduler left by an earlier configuration stops too.
   */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    if (this.config.get('CONVERSATION_IDLE_MINUTES') === 0) {
      await this.queue.removeJobScheduler(CONVERSATION_IDLE_SCHEDULER_ID);
      return;
    }
    await this.queue.upsertJobScheduler(
      CONVERSATION_IDLE_SCHEDULER_ID,
      { every: CONVERSATION_IDLE_SWEEP_MS },
      {
        name: ConversationIdleJobName.Sweep,
        data: { requestedBy: null },
        opts: CONVERSATION_IDLE_JOB_OPTIONS,
      },
    );
  }
}
