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
import { BackupService } from './backup/backup.service';
import { RestoreService } from './backup/restore.service';
import { CreateAdminCommand, MigrateCommand, SeedCommand, VerifyAuditCommand } from './commands';
import { ImportTranscriptCommand } from './import-transcript.command';
import { SigningModule } from '../core/signing/signing.module';

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
    // import-transcript creates transcriptions: their notifications are written too.
    EventsModule,
    NotificationWriterModule,
  ],
  providers: [
    MigrateCommand,
    SeedCommand,
    CreateAdminCommand,
    VerifyAuditCommand,
    BackupService,
    RestoreService,
    BackupCommand,
    RestoreCommand,
    ImportTranscriptCommand,
  ],
})
export class CliModule {}
