import { Module } from '@nestjs/common';
import { CORE_MODULES } from './app.module';
import { WorkersModule } from './workers.module';

/** The worker process: every queue processor and no HTTP server. */
@Module({
  imports: [...CORE_MODULES, WorkersModule],
})
export class WorkerModule {}
