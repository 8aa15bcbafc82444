import { Module } from '@nestjs/common';
import { AudioFilesModule } from '../audio-files/audio-files.module';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ConversationsModule } from '../conversations/conversations.module';
import { BackupService } from './backup/backup.service';
import { MaintenanceRunsRepository } from './maintenance-runs.repository';
import { MaintenanceService } from './maintenance.service';
import { ScheduledBackupsService } from './scheduled-backups.service';

/** The data lifecycle (SPEC section 12): storage check, purge, scheduled backups. */
@Module({
  imports: [AudioFilesModule, ConversationsModule, AuditModule, AuthModule],
  providers: [
    BackupService,
    MaintenanceRunsRepository,
    ScheduledBackupsService,
    MaintenanceService,
  ],
  exports: [BackupService, MaintenanceService],
})
export class MaintenanceModule {}
