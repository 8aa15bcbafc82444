import { Module } from '@nestjs/common';

/**
 * Every queue processor. Imported by the worker process, and by the API process
 * unless WORKERS_ENABLED=false, so API and workers can scale independently.
 * Feature modules add their `<feature>.workers.module.ts` here.
 */
@Module({
  imports: [],
})
export class WorkersModule {}
