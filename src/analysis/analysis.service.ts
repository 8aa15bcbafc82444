import { DomainEvents } from '../core/events/domain-events';
import { Clock } from '../core/clock/clock';
import { Injectable } from '@nestjs/common';
import { AudioProcessingService } from '../audio-files/audio-processing.service';
import { AuditService } from '../audit/audit.service';
import { NotFoundProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { TranscriptionsRepository } from '../transcriptions/transcriptions.repository';
import { AnalysisErrorCode, AnalysisException } from './analysis.exception';
import { AnalysisRepository } from './analysis.repository';
import { CreateAnalysisDto } from './dto/analysis.dto';
import { AnalysisResultEntity } from './entities/analysis-result.entity';

/** An analysis with what `stale` is computed from: the audio's latest transcription version. */
export interface AnalysisView {
  analysis: AnalysisResultEntity;
  latestTranscriptionVersion: number;
}

/**
 * Analysis rules. An analysis reads one transcription version and records which; it is
 * stale once a newer transcription version of the same audio exists. Versions count per
 * audio file, allocated under the audio file's row lock like transcriptions.
 */
@Injectable()
export class AnalysisService {
  constructor(
    private readonly analyses: AnalysisRepository,
    private readonly transcriptions: TranscriptionsRepository,
    private readonly audioFiles: AudioProcessingService,
    private readonly audit: AuditService,
    private readonly events: DomainEvents,
    private readonly clock: Clock,
  ) {}

  async create(
    actor: Actor,
    transcriptionId: string,
    dto: CreateAnalysisDto,
  ): Promise<AnalysisView> {
    // Its size and depth were checked with the body (IsBoundedJsonObject: 413 / 400).
    const details = dto.details ?? {};
    const transcription = await this.transcriptions.findById(transcriptionId);
    if (!transcription) throw new NotFoundProblem('transcription');
    return this.analyses.transaction(async (manager) => {
      const audio = await this.audioFiles.lockLive(transcription.audioFileId, manager);
      const version = (await this.analyses.latestVersion(audio.id, manager)) + 1;
      const created = await this.analyses.insert(
        {
          audioFileId: audio.id,
          transcriptionId: transcription.id,
          transcriptionVersion: transcription.version,
          version,
          summary: dto.summary ?? '',
          sentiment: dto.sentiment ?? null,
          sentimentScore: dto.sentimentScore ?? null,
          details,
          engine: dto.engine,
          createdBy: actor.userId,
        },
        manager,
      );
      await this.audit.record(
        {
          action: 'analysis.create',
          resourceType: 'analysis',
          resourceId: created.id,
          caseId: audio.caseId,
          details: {
            audioFileId: audio.id,
            transcriptionId: transcription.id,
            transcriptionVersion: transcription.version,
            version,
            engine: dto.engine,
          },
        },
        manager,
      );
      await this.events.publish(
        {
          type: 'analysis.created',
          actorId: actor.userId,
          caseId: audio.caseId,
          resourceType: 'analysis',
          resourceId: created.id,
          title: `Analysis v${version} of ${audio.originalName}`,
          alsoNotify: [audio.uploadedBy],
          data: {
            audioFileId: audio.id,
            transcriptionId: transcription.id,
            analysisId: created.id,
            version,
            engine: dto.engine,
          },
          occurredAt: this.clock.now(),
        },
        manager,
      );
      return {
        analysis: created,
        latestTranscriptionVersion: await this.transcriptions.latestVersion(audio.id, manager),
      };
    });
  }

  async listForTranscription(
    transcriptionId: string,
    offset: number,
    limit: number,
  ): Promise<[AnalysisView[], number]> {
    const transcription = await this.transcriptions.findById(transcriptionId);
    if (!transcription) throw new NotFoundProblem('transcription');
    const [[rows, total], latest] = await Promise.all([
      this.analyses.listForTranscription(transcriptionId, offset, limit),
      this.transcriptions.latestVersion(transcription.audioFileId),
    ]);
    return [rows.map((analysis) => ({ analysis, latestTranscriptionVersion: latest })), total];
  }

  async latestForAudio(audioId: string): Promise<AnalysisView> {
    const [analysis, latest] = await Promise.all([
      this.analyses.findLatestForAudio(audioId),
      this.transcriptions.latestVersion(audioId),
    ]);
    if (!analysis) throw new AnalysisException(AnalysisErrorCode.NoAnalysis);
    return { analysis, latestTranscriptionVersion: latest };
  }
}
