import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CacheModule } from '../core/cache/cache.module';
import { ClockModule } from '../core/clock/clock.module';
import { ConfigModule } from '../core/config/config.module';
import { DatabaseModule } from '../core/database/database.module';
import { EventsModule } from '../core/events/events.module';
import { HttpModule } from '../core/http/http.module';
import { NotificationWriterModule } from '../notifications/notification-writer.module';
import { RedisModule } from '../core/redis/redis.module';
import { SecurityModule } from '../core/security/security.module';
import { QueueModule } from '../core/queue/queue.module';
import { StorageModule } from '../core/storage/storage.module';
import { TranscriptionsModule } from '../transcriptions/transcriptions.module';
import { BackupCommand, RestoreCommand } from './backup.commands';
import { RestoreService } from '../maintenance/backup/restore.service';
import { CreateAdminCommand, MigrateCommand, SeedCommand, VerifyAuditCommand } from './commands';
import { ImportTranscriptCommand } from './import-transcript.command';
import { SigningModule } from '../core/signing/signing.module';
import { MetricsModule } from '../core/metrics/metrics.module';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { StorageCheckCommand } from './storage-check.command';

@Module({
  imports: [
    ConfigModule,
    ClockModule,
    HttpModule,
    DatabaseModule,
    CacheModule,
    RedisModule,
    SecurityModule,
    StorageModule,
    SigningModule,
    AuditModule,
    AuthModule,
    QueueModule,
    TranscriptionsModule,
    EventsModule,
    MetricsModule,
    MaintenanceModule,
    // import-transcript creates transcriptions: their notifications are written too.
    NotificationWriterModule,
  ],
  providers: [
    MigrateCommand,
    SeedCommand,
    CreateAdminCommand,
    VerifyAuditCommand,
    RestoreService,
    BackupCommand,
    RestoreCommand,
    ImportTranscriptCommand,
    StorageCheckCommand,
  ],
})
export class CliModule {}
