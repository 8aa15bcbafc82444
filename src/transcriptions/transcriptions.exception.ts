import { ProblemException } from '../core/http/problem.exception';

export enum TranscriptionsErrorCode {
  NoTranscription = 'no-transcription',
  ClaimedByOther = 'audio-claimed',
  AudioChanged = 'audio-changed',
  UnknownParentVersion = 'unknown-parent-version',
}

const DEFINITIONS: Record<
  TranscriptionsErrorCode,
  { status: number; title: string; detail: string }
> = {
  [TranscriptionsErrorCode.NoTranscription]: {
    status: 404,
    title: 'Not Found',
    detail: 'The audio file has no transcription yet.',
  },
  [TranscriptionsErrorCode.ClaimedByOther]: {
    status: 409,
    title: 'Conflict',
    detail: 'Another processor holds the claim on this audio file.',
  },
  [TranscriptionsErrorCode.AudioChanged]: {
    status: 409,
    title: 'Conflict',
    detail:
      'audioSha256 is not the sha256 of this audio file: the transcript was made from other bytes.',
  },
  [TranscriptionsErrorCode.UnknownParentVersion]: {
    status: 422,
    title: 'Unprocessable Content',
    detail: 'parentVersion names no existing version of this audio file’s transcription.',
  },
};

export class TranscriptionsException extends ProblemException {
  constructor(code: TranscriptionsErrorCode, detail?: string) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail });
  }
}
