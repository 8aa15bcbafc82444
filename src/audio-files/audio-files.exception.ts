import { ProblemException } from '../core/http/problem.exception';

export enum AudioErrorCode {
  UnsupportedMediaType = 'unsupported-media-type',
  TooLarge = 'audio-too-large',
  Duplicate = 'duplicate-audio',
  InvalidUpload = 'invalid-upload',
  Archived = 'audio-archived',
  NotArchived = 'audio-not-archived',
  AlreadyArchived = 'audio-already-archived',
  WrongStatus = 'audio-wrong-status',
  ClaimedByOther = 'audio-claimed',
  LegalHold = 'legal-hold',
  CaseClosed = 'case-closed',
  RangeNotSatisfiable = 'range-not-satisfiable',
  ContentMissing = 'audio-content-missing',
}

const DEFINITIONS: Record<AudioErrorCode, { status: number; title: string; detail: string }> = {
  [AudioErrorCode.UnsupportedMediaType]: {
    status: 415,
    title: 'Unsupported Media Type',
    detail: 'The file is not audio of a supported type (wav, mp3, ogg/opus, flac, m4a/mp4, webm).',
  },
  [AudioErrorCode.TooLarge]: {
    status: 413,
    title: 'Content Too Large',
    detail: 'The file is larger than the upload limit.',
  },
  [AudioErrorCode.Duplicate]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case already holds a file with the same content.',
  },
  [AudioErrorCode.InvalidUpload]: {
    status: 400,
    title: 'Bad Request',
    detail: 'The upload is not valid.',
  },
  [AudioErrorCode.Archived]: {
    status: 409,
    title: 'Conflict',
    detail: 'The audio file is archived; restore it first.',
  },
  [AudioErrorCode.NotArchived]: {
    status: 409,
    title: 'Conflict',
    detail: 'The audio file is not archived.',
  },
  [AudioErrorCode.AlreadyArchived]: {
    status: 409,
    title: 'Conflict',
    detail: 'The audio file is already archived.',
  },
  [AudioErrorCode.WrongStatus]: {
    status: 409,
    title: 'Conflict',
    detail: 'The audio file is not in a status that allows this.',
  },
  [AudioErrorCode.ClaimedByOther]: {
    status: 409,
    title: 'Conflict',
    detail: 'Another processor holds the claim on this audio file.',
  },
  [AudioErrorCode.LegalHold]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case is under legal hold: its audio cannot be deleted or archived by retention.',
  },
  [AudioErrorCode.CaseClosed]: {
    status: 409,
    title: 'Conflict',
    detail: 'The case is closed; reopen it to add audio.',
  },
  [AudioErrorCode.RangeNotSatisfiable]: {
    status: 416,
    title: 'Range Not Satisfiable',
    detail: 'The requested range lies outside the file.',
  },
  [AudioErrorCode.ContentMissing]: {
    status: 409,
    title: 'Conflict',
    detail: 'The stored content of this audio file is missing; verify or restore it.',
  },
};

export class AudioException extends ProblemException {
  constructor(
    code: AudioErrorCode,
    options: {
      detail?: string;
      extensions?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    const definition = DEFINITIONS[code];
    super({
      ...definition,
      code,
      detail: options.detail ?? definition.detail,
      extensions: options.extensions,
      headers: options.headers,
    });
  }
}
