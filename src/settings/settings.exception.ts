import { ProblemException } from '../core/http/problem.exception';

export enum SettingsErrorCode {
  NotSet = 'setting-not-set',
  TooMany = 'too-many-settings',
}

export class SettingsException extends ProblemException {
  static notSet(key: string): SettingsException {
    return new SettingsException({
      status: 404,
      code: SettingsErrorCode.NotSet,
      title: 'Not Found',
      detail: `The setting "${key}" is not set.`,
    });
  }

  static tooMany(max: number): SettingsException {
    return new SettingsException({
      status: 422,
      code: SettingsErrorCode.TooMany,
      title: 'Unprocessable Content',
      detail: `A user keeps at most ${max} settings; delete one before adding another.`,
    });
  }
}
