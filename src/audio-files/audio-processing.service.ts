import { DomainEvents } from '../core/events/domain-events';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { UsageService } from '../audit/usage.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { NotFoundProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { AudioErrorCode, AudioException } from './audio-files.exception';
import { AudioFilesRepository } from './audio-files.repository';
import { AudioFileEntity } from './entities/audio-file.entity';

/**
 * The processing status of an audio file, and the only writer of it outside uploads and
 * background jobs: uploaded/queued → processing (claim) → processed (a transcription
 * arrived) or failed (reported), and back to queued (requeue). Transcriptions and
 * analysis lock the file through `lockLive` and mark it through `markProcessed`.
 */
@Injectable()
export class AudioProcessingService {
  constructor(
    private readonly audio: AudioFilesRepository,
    private readonly audit: AuditService,
    private readonly usage: UsageService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly events: DomainEvents,
  ) {}

  async claim(actor: Actor, id: string): Promise<AudioFileEntity> {
    return this.audio.transaction(async (manager) => {
      const timeout = this.config.get('CLAIM_TIMEOUT_MINUTES');
      const claimed = await this.audio.claim(id, actor.userId, timeout, this.clock.now(), manager);
      if (!claimed) {
        const current = await this.audio.findLive(id, manager);
        if (!current) throw new NotFoundProblem('audio');
        if (current.isArchived) throw new AudioException(AudioErrorCode.Archived);
        if (current.status === 'processing')
          throw new AudioException(AudioErrorCode.ClaimedByOther);
        throw new AudioException(AudioErrorCode.WrongStatus, {
          detail: `A ${current.status} audio file cannot be claimed; only queued files can.`,
        });
      }
      await this.audit.record(
        { action: 'audio.claim', resourceType: 'audio', resourceId: id, caseId: claimed.caseId },
        manager,
      );
      return claimed;
    });
  }

  /**
   * The claimant reports how far it got; the report renews its claim. Not audited (an
   * engine may report every few seconds; the claim, result or failure is). Anyone but the
   * claimant, or a file not in `processing`, gets 409.
   */
  async reportProgress(
    actor: Actor,
    id: string,
    progress: { percent: number; stage: string | null },
  ): Promise<AudioFileEntity> {
    return this.audio.transaction(async (manager) => {
      const reported = await this.audio.reportProgress(
        id,
        actor.userId,
        progress,
        this.clock.now(),
        manager,
      );
      if (reported) return reported;
      const current = await this.audio.findLive(id, manager);
      if (!current) throw new NotFoundProblem('audio');
      if (current.status !== 'processing') {
        throw new AudioException(AudioErrorCode.WrongStatus, {
          detail: `A ${current.status} audio file takes no progress reports; claim it first.`,
        });
      }
      throw new AudioException(AudioErrorCode.ClaimedByOther, {
        detail: 'Only the processor holding the claim on this audio file reports its progress.',
      });
    });
  }

  async fail(actor: Actor, id: string, error: string): Promise<AudioFileEntity> {
    return this.audio.transaction(async (manager) => {
      const current = await this.audio.lockAny(id, manager);
      if (!current || current.deletedAt) throw new NotFoundProblem('audio');
      if (current.status !== 'processing' && current.status !== 'queued') {
        throw new AudioException(AudioErrorCode.WrongStatus, {
          detail: `A ${current.status} audio file cannot be marked failed.`,
        });
      }
      if (current.claimedBy && current.claimedBy !== actor.userId) {
        throw new AudioException(AudioErrorCode.ClaimedByOther);
      }
      const updated = await this.audio.update(
        id,
        { status: 'failed', errorMessage: error, claimedBy: null, claimedAt: null },
        manager,
      );
      // A failed processing job, on the usage of whoever asked for it (the uploader).
      await this.usage.increment(current.uploadedBy, { jobsFailed: 1 }, manager);
      await this.audit.record(
        {
          action: 'audio.fail',
          resourceType: 'audio',
          resourceId: id,
          caseId: current.caseId,
          outcome: 'failure',
          details: { error: error.slice(0, 500) },
        },
        manager,
      );
      await this.events.publish(
        {
          type: 'transcription.failed',
          actorId: actor.userId,
          caseId: current.caseId,
          resourceType: 'audio',
          resourceId: id,
          title: `Transcription of ${current.originalName} failed`,
          alsoNotify: [current.uploadedBy],
          data: { audioFileId: id, error: error.slice(0, 500) },
          occurredAt: this.clock.now(),
        },
        manager,
      );
      return updated!;
    });
  }

  /**
   * The live audio file, row-locked for the caller's transaction, so that work depending
   * on it (a new transcription or analysis version) is serialised per file. 404 if gone.
   */
  async lockLive(id: string, manager: EntityManager): Promise<AudioFileEntity> {
    const audio = await this.audio.lockAny(id, manager);
    if (!audio || audio.deletedAt) throw new NotFoundProblem('audio');
    return audio;
  }

  /**
   * An engine delivered a transcription of the file: it is processed, and its claim (by
   * whoever held it) is released; a succeeded job on the uploader's usage. In the
   * caller's transaction, with the new version.
   */
  async markProcessed(audio: AudioFileEntity, manager: EntityManager): Promise<void> {
    const id = audio.id;
    await this.usage.increment(audio.uploadedBy, { jobsSucceeded: 1 }, manager);
    await this.audio.update(
      id,
      {
        status: 'processed',
        processedAt: this.clock.now(),
        errorMessage: null,
        claimedBy: null,
        claimedAt: null,
      },
      manager,
    );
  }

  async requeue(id: string): Promise<AudioFileEntity> {
    return this.audio.transaction(async (manager) => {
      const current = await this.audio.lockAny(id, manager);
      if (!current || current.deletedAt) throw new NotFoundProblem('audio');
      if (current.isArchived) throw new AudioException(AudioErrorCode.Archived);
      if (current.status !== 'failed' && current.status !== 'uploaded') {
        throw new AudioException(AudioErrorCode.WrongStatus, {
          detail: `A ${current.status} audio file cannot be requeued; only failed or uploaded ones.`,
        });
      }
      const updated = await this.audio.update(
        id,
        { status: 'queued', errorMessage: null, claimedBy: null, claimedAt: null },
        manager,
      );
      await this.audit.record(
        {
          action: 'audio.requeue',
          resourceType: 'audio',
          resourceId: id,
          caseId: current.caseId,
          details: { from: current.status },
        },
        manager,
      );
      return updated!;
    });
  }
}
