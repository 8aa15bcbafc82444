import { ProblemException } from '../core/http/problem.exception';

export enum ExportErrorCode {
  NotReady = 'export-not-ready',
  Failed = 'export-failed',
  Expired = 'export-expired',
}

const DEFINITIONS: Record<ExportErrorCode, { status: number; title: string; detail: string }> = {
  [ExportErrorCode.NotReady]: {
    status: 409,
    title: 'Conflict',
    detail: 'The export is still being built; follow its job (GET /jobs/:jobId) and try again.',
  },
  [ExportErrorCode.Failed]: {
    status: 409,
    title: 'Conflict',
    detail: 'The export failed; request a new one.',
  },
  [ExportErrorCode.Expired]: {
    status: 410,
    title: 'Gone',
    detail: 'The export has expired and its bundle was removed; request a new one.',
  },
};

export class ExportException extends ProblemException {
  constructor(code: ExportErrorCode, options: { headers?: Record<string, string> } = {}) {
    super({ code, ...DEFINITIONS[code], ...options });
  }
}
