import { Module } from '@nestjs/common';
import { AudioFilesWorkersModule } from './audio-files/audio-files.workers.module';
import { AuditWorkersModule } from './audit/audit.workers.module';
import { ConversationsWorkersModule } from './conversations/conversations.workers.module';
import { ExportsWorkersModule } from './exports/exports.workers.module';
import { MaintenanceWorkersModule } from './maintenance/maintenance.workers.module';
import { NotificationsWorkersModule } from './notifications/notifications.workers.module';
import { WebhooksWorkersModule } from './webhooks/webhooks.workers.module';

/**
 * Every queue processor. Imported by the worker process, and by the API process
 * unless WORKERS_ENABLED=false, so API and workers can scale independently.
 * Feature modules add their `<feature>.workers.module.ts` here.
 */
@Module({
  imports: [
    AudioFilesWorkersModule,
    AuditWorkersModule,
    ConversationsWorkersModule,
    ExportsWorkersModule,
    MaintenanceWorkersModule,
    NotificationsWorkersModule,
    WebhooksWorkersModule,
  ],
})
export class WorkersModule {}
