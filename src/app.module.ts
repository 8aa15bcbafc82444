import { DynamicModule, Module } from '@nestjs/common';
import { AnalysisModule } from './analysis/analysis.module';
import { AudioFilesModule } from './audio-files/audio-files.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CasesModule } from './cases/cases.module';
import { ConversationsModule } from './conversations/conversations.module';
import { CacheModule } from './core/cache/cache.module';
import { ClockModule } from './core/clock/clock.module';
import { ConfigModule } from './core/config/config.module';
import { DatabaseModule } from './core/database/database.module';
import { EventsModule } from './core/events/events.module';
import { ExportsModule } from './exports/exports.module';
import { HttpModule } from './core/http/http.module';
import { LoggingModule } from './core/logging/logging.module';
import { MetricsModule } from './core/metrics/metrics.module';
import { QueueModule } from './core/queue/queue.module';
import { RedisModule } from './core/redis/redis.module';
import { SigningModule } from './core/signing/signing.module';
import { SecurityModule } from './core/security/security.module';
import { StorageModule } from './core/storage/storage.module';
import { HealthModule } from './health/health.module';
import { NotificationsModule } from './notifications/notifications.module';
import { ObservabilityModule } from './observability/observability.module';
import { JobsModule } from './jobs/jobs.module';
import { SearchModule } from './search/search.module';
import { SettingsModule } from './settings/settings.module';
import { TranscriptionsModule } from './transcriptions/transcriptions.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { WorkersModule } from './workers.module';

/** Infrastructure every process needs, API or worker. */
export const CORE_MODULES = [
  ConfigModule,
  ClockModule,
  LoggingModule,
  MetricsModule,
  HttpModule,
  DatabaseModule,
  CacheModule,
  RedisModule,
  QueueModule,
  SecurityModule,
  SigningModule,
  AuditModule,
  EventsModule,
  StorageModule,
];

@Module({})
export class AppModule {
  /** The API, with the queue processors in the same process when `workers` is true. */
  static forRoot({ workers }: { workers: boolean }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ...CORE_MODULES,
        AuthModule,
        CasesModule,
        ConversationsModule,
        AudioFilesModule,
        TranscriptionsModule,
        AnalysisModule,
        SearchModule,
        ExportsModule,
        SettingsModule,
        NotificationsModule,
        JobsModule,
        WebhooksModule,
        HealthModule,
        ObservabilityModule,
        ...(workers ? [WorkersModule] : []),
      ],
    };
  }
}
