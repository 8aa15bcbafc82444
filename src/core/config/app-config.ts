import { Injectable } from '@nestjs/common';
import { Environment, validateEnvironment } from './environment';

/**
 * Typed, read-only access to the validated environment.
 *
 * The environment is validated when the application is built (this provider is
 * instantiated), not when the module file is first imported: `ConfigModule.forRoot`
 * freezes `process.env` at import time, so an application created later in the same
 * process (tests that start an app with their own settings, the CLI) would otherwise
 * silently run with the values of the first import. `.env` is still loaded into
 * `process.env` by ConfigModule before this runs.
 */
@Injectable()
export class AppConfig {
  private readonly env: Environment = validateEnvironment(process.env);

  get<K extends keyof Environment>(key: K): Environment[K] {
    return this.env[key];
  }

  get isTest(): boolean {
    return this.get('NODE_ENV') === 'test';
  }
}
