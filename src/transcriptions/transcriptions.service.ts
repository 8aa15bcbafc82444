import { DomainEvents } from '../core/events/domain-events';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AudioProcessingService } from '../audio-files/audio-processing.service';
import { AudioFileEntity } from '../audio-files/entities/audio-file.entity';
import { AuditService } from '../audit/audit.service';
import { UsageService } from '../audit/usage.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { NotFoundProblem, ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { CreateTranscriptionDto, TranscriptionResponse } from './dto/transcription.dto';
import { TranscriptionEntity, TranscriptSegment } from './entities/transcription.entity';
import {
  contentOf,
  overallConfidence,
  renameSpeakers,
  segmentProblems,
  speakersOf,
} from './segments';
import { EXPORT_CONTENT_TYPES, ExportFormat, toSrt, toText, toVtt } from './transcript-export';
import { TranscriptionsErrorCode, TranscriptionsException } from './transcriptions.exception';
import { NewTranscription, TranscriptionsRepository } from './transcriptions.repository';

/** What POST /audio/:id/transcriptions did: a new version, or the failure it recorded. */
export type CreateOutcome =
  | { kind: 'transcription'; transcription: TranscriptionEntity }
  | { kind: 'failed'; audio: AudioFileEntity };

export interface TranscriptExport {
  body: string;
  contentType: string;
  filename: string;
}

/**
 * Transcription rules. Visibility and participation are enforced by the access guard
 * (`resource: 'audio'` or `'transcription'`). Every new version is allocated under the
 * audio file's row lock, so concurrent posts get consecutive versions, and is written
 * with its audit entry (and, for engine output, the audio's status change and usage) in
 * one transaction.
 */
@Injectable()
export class TranscriptionsService {
  constructor(
    private readonly transcriptions: TranscriptionsRepository,
    private readonly audioService: AudioProcessingService,
    private readonly audit: AuditService,
    private readonly usage: UsageService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly events: DomainEvents,
  ) {}

  async create(actor: Actor, audioId: string, dto: CreateTranscriptionDto): Promise<CreateOutcome> {
    if (dto.error !== undefined) {
      const extra = (Object.keys(dto) as (keyof CreateTranscriptionDto)[]).filter(
        (key) => key !== 'error' && dto[key] !== undefined,
      );
      if (extra.length > 0) {
        throw new ValidationProblem(
          extra.map((field) => ({ field, message: `${field} must not be sent with error` })),
        );
      }
      return { kind: 'failed', audio: await this.audioService.fail(actor, audioId, dto.error) };
    }
    const segments: TranscriptSegment[] = dto.segments!.map((s) => ({
      start: s.start,
      end: s.end,
      speaker: s.speaker ?? null,
      text: s.text,
      confidence: s.confidence ?? null,
    }));
    if (dto.language !== undefined && !(await this.transcriptions.languageExists(dto.language))) {
      throw new ValidationProblem([
        { field: 'language', message: `language "${dto.language}" is not a known language` },
      ]);
    }

    const transcription = await this.transcriptions.transaction(async (manager) => {
      const audio = await this.lockAudio(audioId, manager);
      const problems = segmentProblems(segments, audio.durationSeconds);
      if (problems.length > 0) throw new ValidationProblem(problems, 'The segments are not valid.');
      this.checkClaim(actor, audio);
      if (dto.audioSha256 !== undefined && dto.audioSha256 !== audio.sha256) {
        throw new TranscriptionsException(TranscriptionsErrorCode.AudioChanged);
      }
      const latest = await this.transcriptions.latestVersion(audioId, manager);
      if (dto.parentVersion !== undefined && dto.parentVersion > latest) {
        throw new TranscriptionsException(
          TranscriptionsErrorCode.UnknownParentVersion,
          `parentVersion ${dto.parentVersion} does not exist; the latest version is ${latest}.`,
        );
      }
      const created = await this.transcriptions.insertLatest(
        {
          audioFileId: audioId,
          caseId: audio.caseId,
          version: latest + 1,
          parentVersion: dto.parentVersion ?? (latest > 0 ? latest : null),
          audioSha256: audio.sha256,
          language: dto.language ?? audio.language,
          content: dto.content ?? contentOf(segments),
          segments,
          segmentCount: segments.length,
          engine: dto.engine!,
          confidence: dto.confidence ?? overallConfidence(segments),
          createdBy: actor.userId,
        },
        manager,
      );
      await this.audioService.markProcessed(audio, manager);
      await this.usage.increment(actor.userId, { transcriptions: 1 }, manager);
      await this.audit.record(
        {
          action: 'transcription.create',
          resourceType: 'transcription',
          resourceId: created.id,
          caseId: audio.caseId,
          details: {
            audioFileId: audioId,
            version: created.version,
            parentVersion: created.parentVersion,
            engine: created.engine,
            segments: created.segmentCount,
            fromStatus: audio.status,
          },
        },
        manager,
      );
      // The engine is the actor; whoever uploaded the audio asked for this outcome.
      await this.events.publish(
        {
          type: 'transcription.created',
          actorId: actor.userId,
          caseId: audio.caseId,
          resourceType: 'transcription',
          resourceId: created.id,
          title: `Transcription v${created.version} of ${audio.originalName}`,
          alsoNotify: [audio.uploadedBy],
          data: {
            audioFileId: audioId,
            transcriptionId: created.id,
            version: created.version,
            engine: created.engine,
          },
          occurredAt: this.clock.now(),
        },
        manager,
      );
      return created;
    });
    return { kind: 'transcription', transcription };
  }

  /**
   * A new version with speakers renamed (`Speaker_0` → `Alice`); its parent is the
   * version renamed, whichever that is. Every label must occur in the segments.
   */
  async renameSpeakers(
    actor: Actor,
    id: string,
    names: ReadonlyMap<string, string>,
  ): Promise<TranscriptionEntity> {
    const source = await this.get(id);
    const known = speakersOf(source.segments);
    const unknown = [...names.keys()].filter((label) => !known.has(label));
    if (unknown.length > 0) {
      throw new ValidationProblem(
        unknown.map((label) => ({
          field: label,
          message: `no segment of version ${source.version} has the speaker "${label}"`,
        })),
      );
    }
    return this.transcriptions.transaction(async (manager) => {
      const audio = await this.lockAudio(source.audioFileId, manager);
      const latest = await this.transcriptions.latestVersion(audio.id, manager);
      const values: NewTranscription = {
        audioFileId: source.audioFileId,
        caseId: source.caseId,
        version: latest + 1,
        parentVersion: source.version,
        audioSha256: source.audioSha256,
        language: source.language,
        content: source.content,
        segments: renameSpeakers(source.segments, names),
        segmentCount: source.segmentCount,
        engine: source.engine,
        confidence: source.confidence,
        createdBy: actor.userId,
      };
      const created = await this.transcriptions.insertLatest(values, manager);
      await this.audit.record(
        {
          action: 'transcription.speakers_rename',
          resourceType: 'transcription',
          resourceId: created.id,
          caseId: source.caseId,
          details: {
            audioFileId: source.audioFileId,
            version: created.version,
            parentVersion: source.version,
            speakers: Object.fromEntries(names),
          },
        },
        manager,
      );
      return created;
    });
  }

  async get(id: string): Promise<TranscriptionEntity> {
    const found = await this.transcriptions.findById(id);
    if (!found) throw new NotFoundProblem('transcription');
    return found;
  }

  async latest(audioId: string): Promise<TranscriptionEntity> {
    const found = await this.transcriptions.findLatest(audioId);
    if (!found) throw new TranscriptionsException(TranscriptionsErrorCode.NoTranscription);
    return found;
  }

  list(audioId: string, offset: number, limit: number): Promise<[TranscriptionEntity[], number]> {
    return this.transcriptions.listForAudio(audioId, offset, limit);
  }

  /** The transcript as a file; every export is audited like a download. */
  async export(id: string, format: ExportFormat): Promise<TranscriptExport> {
    const transcription = await this.get(id);
    const body = this.render(transcription, format);
    await this.audit.record({
      action: 'transcription.export',
      resourceType: 'transcription',
      resourceId: transcription.id,
      caseId: transcription.caseId,
      details: { format, version: transcription.version },
    });
    return {
      body,
      contentType: EXPORT_CONTENT_TYPES[format],
      filename: `transcription-${transcription.audioFileId}-v${transcription.version}.${format}`,
    };
  }

  private render(transcription: TranscriptionEntity, format: ExportFormat): string {
    switch (format) {
      case 'txt':
        return toText(transcription.content, transcription.segments);
      case 'srt':
        return toSrt(transcription.segments);
      case 'vtt':
        return toVtt(transcription.segments);
      case 'json':
        return `${JSON.stringify(TranscriptionResponse.from(transcription), null, 2)}\n`;
    }
  }

  private lockAudio(audioId: string, manager: EntityManager): Promise<AudioFileEntity> {
    return this.audioService.lockLive(audioId, manager);
  }

  /** Someone else's live claim blocks a post; an expired one does not (it would be handed over). */
  private checkClaim(actor: Actor, audio: AudioFileEntity): void {
    if (audio.status !== 'processing' || !audio.claimedBy || audio.claimedBy === actor.userId) {
      return;
    }
    const timeoutMs = this.config.get('CLAIM_TIMEOUT_MINUTES') * 60_000;
    if (audio.claimedAt && audio.claimedAt.getTime() > this.clock.nowMs() - timeoutMs) {
      throw new TranscriptionsException(TranscriptionsErrorCode.ClaimedByOther);
    }
  }
}
