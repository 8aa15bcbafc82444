import { Module } from '@nestjs/common';
import { CORE_MODULES } from './app.module';
import { NotificationWriterModule } from './notifications/notification-writer.module';
import { WorkersModule } from './workers.module';

/**
 * The worker process: every queue processor and no HTTP server. Jobs publish domain
 * events, so the notification writer subscribes here too.
 */
@Module({
  imports: [...CORE_MODULES, NotificationWriterModule, WorkersModule],
})
export class WorkerModule {}
