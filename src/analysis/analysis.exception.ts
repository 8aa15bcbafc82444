import { ProblemException } from '../core/http/problem.exception';

export enum AnalysisErrorCode {
  NoAnalysis = 'no-analysis',
}

const DEFINITIONS: Record<AnalysisErrorCode, { status: number; title: string; detail: string }> = {
  [AnalysisErrorCode.NoAnalysis]: {
    status: 404,
    title: 'Not Found',
    detail: 'The audio file has no analysis yet.',
  },
};

export class AnalysisException extends ProblemException {
  constructor(code: AnalysisErrorCode, detail?: string) {
    const definition = DEFINITIONS[code];
    super({ ...definition, code, detail: detail ?? definition.detail });
  }
}
