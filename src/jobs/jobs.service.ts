import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { NotFoundProblem } from '../core/http/problem.exception';
import { JOB_ID_PATTERN, RequestedJobData } from '../core/queue/job-data';
import { QueueName } from '../core/queue/queue-names';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { JobResponse } from './dto/job.dto';

/** Looks jobs up across the service's queues for GET /jobs/:id. */
@Injectable()
export class JobsService {
  private readonly queues: Queue[];

  constructor(
    @InjectQueue(QueueName.AudioArchive) audioArchive: Queue,
    @InjectQueue(QueueName.Retention) retention: Queue,
    @InjectQueue(QueueName.TurnPersistence) turnPersistence: Queue,
    @InjectQueue(QueueName.AuditCheckpoint) auditCheckpoint: Queue,
    @InjectQueue(QueueName.CaseExport) caseExport: Queue,
  ) {
    this.queues = [audioArchive, retention, turnPersistence, auditCheckpoint, caseExport];
  }

  /** The job, if it exists and the caller asked for it or holds `queues:admin`; 404 otherwise. */
  async get(actor: Actor, id: string): Promise<JobResponse> {
    if (!JOB_ID_PATTERN.test(id)) throw new NotFoundProblem('job');
    let job = await this.find(id);
    const data = job?.data as Partial<RequestedJobData> | undefined;
    if (!job || (data?.requestedBy !== actor.userId && !grants(actor.grants, 'queues:admin'))) {
      throw new NotFoundProblem('job');
    }
    const state = await job.getState();
    // The job may have finished between the two reads: its result is only in a fresh copy.
    if ((state === 'completed' || state === 'failed') && !job.finishedOn) {
      job = (await this.find(id)) ?? job;
    }
    const progress = typeof job.progress === 'number' ? job.progress : 0;
    return {
      id: job.id!,
      type: job.name,
      state,
      progress: state === 'completed' ? 100 : progress,
      result: job.returnvalue ?? null,
      error: job.failedReason || null,
      createdAt: new Date(job.timestamp).toISOString(),
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }

  private async find(id: string): Promise<Job | undefined> {
    for (const queue of this.queues) {
      const job: Job | undefined = await queue.getJob(id);
      if (job) return job;
    }
    return undefined;
  }
}
