import { Injectable } from '@nestjs/common';
import { accessScope } from '../core/access/access-decision';
import { NotFoundProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { AudioFilesRepository } from './audio-files.repository';
import { ListAudioQuery, ListCaseAudioQuery } from './dto/audio-file.dto';
import { AudioFileEntity } from './entities/audio-file.entity';

/**
 * Reading audio file records. Visibility and participation are enforced by the access
 * guard (routes declare `resource: 'case'` or `resource: 'audio'`); lists filter in SQL.
 * Bytes: AudioTransferService; processing status: AudioProcessingService; background
 * jobs: AudioJobsService.
 */
@Injectable()
export class AudioFilesService {
  constructor(private readonly audio: AudioFilesRepository) {}

  listForCase(caseId: string, query: ListCaseAudioQuery): Promise<[AudioFileEntity[], number]> {
    return this.audio.list({
      actorId: '',
      seesAll: true,
      caseId,
      status: query.status,
      offset: query.offset,
      limit: query.limit,
    });
  }

  list(actor: Actor, query: ListAudioQuery): Promise<[AudioFileEntity[], number]> {
    return this.audio.list({
      ...accessScope(actor),
      caseId: query.caseId,
      status: query.status,
      language: query.language,
      uploadedBy: query.uploadedBy,
      newestFirst: query.sort === '-createdAt',
      offset: query.offset,
      limit: query.limit,
    });
  }

  async get(id: string): Promise<AudioFileEntity> {
    const found = await this.audio.findLive(id);
    if (!found) throw new NotFoundProblem('audio');
    return found;
  }
}
