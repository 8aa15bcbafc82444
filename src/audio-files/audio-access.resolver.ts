import { Injectable } from '@nestjs/common';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { AudioFilesRepository } from './audio-files.repository';

/** Answers the access guard for `resource: 'audio'` routes: the caller's standing on the file's case. */
@Injectable()
export class AudioAccessResolver implements ResourceAccessResolver {
  constructor(private readonly audio: AudioFilesRepository) {}

  participation(actor: Actor, audioId: string): Promise<Participation | null | undefined> {
    return this.audio.participation(audioId, actor.userId);
  }
}
