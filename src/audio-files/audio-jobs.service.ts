import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { LegalHoldService } from '../cases/legal-hold.service';
import { currentRequestId } from '../core/queue/job-data';
import { QueueName } from '../core/queue/queue-names';
import type { Actor } from '../core/security/actor';
import { AudioErrorCode, AudioException } from './audio-files.exception';
import { AudioFilesService } from './audio-files.service';
import {
  AUDIO_JOB_OPTIONS,
  AudioJobData,
  AudioJobName,
  audioJobId,
  JOB_HISTORY,
} from './audio-jobs';
import { AudioFileEntity } from './entities/audio-file.entity';

/**
 * Requests for the `audio-archive` queue (archive, restore, delete, verify): checks that
 * the request makes sense now and adds the job under its deterministic id. The work
 * itself is AudioArchiveService's, run by AudioArchiveProcessor.
 */
@Injectable()
export class AudioJobsService {
  constructor(
    private readonly files: AudioFilesService,
    private readonly holds: LegalHoldService,
    @InjectQueue(QueueName.AudioArchive) private readonly queue: Queue<AudioJobData>,
  ) {}

  async requestArchive(actor: Actor, id: string, reason: string): Promise<string> {
    const file = await this.files.get(id);
    if (file.isArchived) throw new AudioException(AudioErrorCode.AlreadyArchived);
    return this.enqueue(AudioJobName.Archive, file, actor.userId, { reason });
  }

  async requestRestore(actor: Actor, id: string): Promise<string> {
    const file = await this.files.get(id);
    if (!file.isArchived) throw new AudioException(AudioErrorCode.NotArchived);
    return this.enqueue(AudioJobName.Restore, file, actor.userId);
  }

  async requestDelete(actor: Actor, id: string): Promise<string> {
    const file = await this.files.get(id);
    const kase = await this.holds.holdState(file.caseId);
    if (kase?.legalHoldAt) throw new AudioException(AudioErrorCode.LegalHold);
    return this.enqueue(AudioJobName.Delete, file, actor.userId);
  }

  async requestVerify(actor: Actor, id: string): Promise<string> {
    return this.enqueue(AudioJobName.Verify, await this.files.get(id), actor.userId);
  }

  /**
   * Adds the job under its deterministic id: a repeated request while the job is
   * pending returns the same job; a failed job with that id is retried (a re-run).
   */
  async enqueue(
    name: AudioJobName,
    file: Pick<AudioFileEntity, 'id' | 'version' | 'verifiedAt'>,
    requestedBy: string | null,
    extra: Pick<AudioJobData, 'reason' | 'retention'> = {},
  ): Promise<string> {
    const [jobId] = await this.enqueueMany(name, [file], requestedBy, extra);
    return jobId!;
  }

  /** `enqueue` for many files: their states in one round of requests, one addBulk. */
  async enqueueMany(
    name: AudioJobName,
    files: Pick<AudioFileEntity, 'id' | 'version' | 'verifiedAt'>[],
    requestedBy: string | null,
    extra: Pick<AudioJobData, 'reason' | 'retention'> = {},
  ): Promise<string[]> {
    const jobIds = files.map((file) => audioJobId(name, file));
    const states = await Promise.all(jobIds.map((jobId) => this.queue.getJobState(jobId)));
    const added = files.flatMap((file, i) => {
      if (states[i] !== 'unknown') return [];
      const data: AudioJobData = { audioId: file.id, requestedBy, ...currentRequestId(), ...extra };
      return [
        { name, data, opts: { ...AUDIO_JOB_OPTIONS[name], ...JOB_HISTORY, jobId: jobIds[i] } },
      ];
    });
    const retried = jobIds.filter((_, i) => states[i] === 'failed');
    await Promise.all([
      added.length > 0 ? this.queue.addBulk(added) : undefined,
      ...retried.map(async (jobId) => (await this.queue.getJob(jobId))?.retry('failed')),
    ]);
    return jobIds;
  }
}
