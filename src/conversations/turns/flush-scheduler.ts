import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import { currentRequestId } from '../../core/queue/job-data';
import { QueueName } from '../../core/queue/queue-names';
import { SealJobData, TURN_JOB_OPTIONS, TurnJobName } from './turn-persistence.jobs';

/**
 * Schedules buffer flushes. Time is cut into slots of TURN_FLUSH_DELAY_MS; every
 * accepted batch asks for the flush of its slot, and the deterministic jobId makes
 * that one job per slot however many batches arrive — so a job moves hundreds of
 * turns, and no turn waits much longer than the flush delay.
 */
@Injectable()
export class FlushScheduler {
  private readonly delayMs: number;
  private lastSlot = -1;

  constructor(
    @InjectQueue(QueueName.TurnPersistence) private readonly queue: Queue,
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.delayMs = config.get('TURN_FLUSH_DELAY_MS');
  }

  async requestFlush(now = this.clock.nowMs()): Promise<void> {
    const slot = Math.floor(now / this.delayMs);
    if (slot === this.lastSlot) return;
    this.lastSlot = slot;
    const dueIn = (slot + 1) * this.delayMs - now;
    // One flush serves every batch of its slot; it carries the request id of the first.
    await this.queue.add(
      TurnJobName.Flush,
      { requestedBy: null, ...currentRequestId() },
      { ...TURN_JOB_OPTIONS, jobId: `flush.${slot}`, delay: dueIn },
    );
  }

  /** A flush right away, for a drain that ran out of time with work left. */
  async flushNow(): Promise<void> {
    await this.queue.add(
      TurnJobName.Flush,
      { requestedBy: null, ...currentRequestId() },
      { ...TURN_JOB_OPTIONS, jobId: `flush-now.${this.clock.nowMs()}` },
    );
  }

  async requestSeal(conversationId: string, requestedBy: string | null = null): Promise<string> {
    const data: SealJobData = { conversationId, requestedBy, ...currentRequestId() };
    const job = await this.queue.add(TurnJobName.Seal, data, {
      ...TURN_JOB_OPTIONS,
      jobId: `seal.${conversationId}`,
    });
    return job.id!;
  }

  /** Registers the periodic sweep (idempotent across workers). */
  async scheduleSweep(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(
      'turn-sweep',
      { every: everyMs },
      { name: TurnJobName.Sweep, opts: TURN_JOB_OPTIONS },
    );
  }
}
