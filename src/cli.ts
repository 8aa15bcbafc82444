import './cli/quiet-logs';
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli/cli.module';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  await CommandFactory.run(CliModule, {
    logger: ['error', 'warn'],
    errorHandler: (error) => {
      console.error(error.message);
      process.exit(1);
    },
    // A command that throws (a refused restore, a failed pg_dump) exits 1 with its message.
    serviceErrorHandler: (error) => {
      console.error(error.message);
      process.exitCode = 1;
    },
  });
}

void main();
