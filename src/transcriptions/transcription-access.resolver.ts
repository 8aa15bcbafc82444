import { Injectable } from '@nestjs/common';
import type { Actor } from '../core/security/actor';
import { Participation, ResourceAccessResolver } from '../core/security/resource-access';
import { TranscriptionsRepository } from './transcriptions.repository';

/** Answers the access guard for `resource: 'transcription'`: the caller's standing on its case. */
@Injectable()
export class TranscriptionAccessResolver implements ResourceAccessResolver {
  constructor(private readonly transcriptions: TranscriptionsRepository) {}

  participation(actor: Actor, transcriptionId: string): Promise<Participation | null | undefined> {
    return this.transcriptions.participation(transcriptionId, actor.userId);
  }
}
