/** Child process of the benchmarks: the worker process as `src/worker.ts` builds it. */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppLogger } from '../../src/core/logging/app-logger';
import { WorkerModule } from '../../src/worker.module';
import { profileIfAsked } from './profiling';

async function main(): Promise<void> {
  profileIfAsked('worker');
  const app = await NestFactory.createApplicationContext(WorkerModule, { bufferLogs: true });
  app.useLogger(app.get(AppLogger));
  app.enableShutdownHooks();
  process.send?.({ ready: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
