import './cli/quiet-logs';
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { verifyBundleCommand } from './cli/verify-bundle';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  // Offline by design: checks a bundle with nothing but the file and a public key, so
  // it runs before the application would be loaded at all (loading it validates the
  // configuration, and the other commands need the database).
  if (process.argv[2] === 'verify-bundle') {
    process.exitCode = await verifyBundleCommand(process.argv.slice(3)).catch((error: Error) => {
      console.error(error.message);
      return 1;
    });
    return;
  }
  const [{ CommandFactory }, { CliModule }] = await Promise.all([
    import('nest-commander'),
    import('./cli/cli.module'),
  ]);
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
