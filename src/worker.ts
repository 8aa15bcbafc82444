import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { AppLogger } from './core/logging/app-logger';
import { WorkerModule } from './worker.module';

/** Runs queue processors alone, so API and workers scale independently. */
async function bootstrap(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const app = await NestFactory.createApplicationContext(WorkerModule, { bufferLogs: true });
  app.useLogger(app.get(AppLogger));
  // SIGTERM/SIGINT close the context: processors finish or return their jobs first.
  app.enableShutdownHooks();
  const logger = app.get(AppLogger);
  logger.log('worker started');
  logger.flush();
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
