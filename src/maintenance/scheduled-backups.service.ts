import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { UsersService } from '../auth/users.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { DomainEvents } from '../core/events/domain-events';
import { BackupService } from './backup/backup.service';

/** The names scheduled backups get; pruning touches nothing else in BACKUP_DIR. */
const ARCHIVE_NAME = /^verbatim-\d{8}T\d{6}Z\.tar\.gz$/;

export interface ScheduledBackupResult {
  file: string;
  archiveBytes: number;
  objects: number;
  pruned: string[];
}

/** A connection string's credentials never reach a log, an audit entry or a notification. */
export function redactCredentials(message: string): string {
  return message
    .replace(/\/\/[^/@\s]*@/g, '//***@')
    .split('\n')[0]!
    .slice(0, 500);
}

/**
 * The worker's backups (SPEC section 12): the CLI's backup into BACKUP_DIR under a
 * sortable UTC name, then all but the newest BACKUP_KEEP scheduled archives are deleted.
 * A failure is audited and every active admin is notified (`backup.failed`); old archives
 * are pruned only after a success, so a failing schedule never eats the last good copy.
 */
@Injectable()
export class ScheduledBackupsService {
  private readonly logger = new Logger(ScheduledBackupsService.name);

  constructor(
    private readonly backups: BackupService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly events: DomainEvents,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async run(): Promise<ScheduledBackupResult> {
    const directory = resolve(this.config.get('BACKUP_DIR'));
    const name = `verbatim-${this.clock
      .now()
      .toISOString()
      .replace(/[-:]|\.\d{3}/g, '')}.tar.gz`;
    try {
      await mkdir(directory, { recursive: true });
      const report = await this.backups.backup(join(directory, name));
      const pruned = await this.prune(directory);
      await this.audit.record({
        action: 'backup.create',
        resourceType: 'backup',
        resourceId: name,
        actorId: null,
        details: {
          archiveBytes: report.archiveBytes,
          objects: report.manifest.objectCount,
          pruned,
        },
      });
      return {
        file: name,
        archiveBytes: report.archiveBytes,
        objects: report.manifest.objectCount,
        pruned,
      };
    } catch (error) {
      await this.reportFailure(name, error);
      throw error;
    }
  }

  private async prune(directory: string): Promise<string[]> {
    const archives = (await readdir(directory)).filter((file) => ARCHIVE_NAME.test(file)).sort();
    const pruned = archives.slice(0, Math.max(0, archives.length - this.config.get('BACKUP_KEEP')));
    for (const file of pruned) await unlink(join(directory, file));
    return pruned;
  }

  private async reportFailure(name: string, error: unknown): Promise<void> {
    const reason = redactCredentials(error instanceof Error ? error.message : String(error));
    this.logger.error({ file: name, reason }, 'scheduled backup failed');
    const admins = await this.users.adminIds();
    await this.dataSource.transaction(async (manager) => {
      await this.audit.record(
        {
          action: 'backup.fail',
          resourceType: 'backup',
          resourceId: name,
          actorId: null,
          outcome: 'failure',
          details: { reason },
        },
        manager,
      );
      await this.events.publish(
        {
          type: 'backup.failed',
          actorId: null,
          caseId: null,
          resourceType: 'backup',
          resourceId: name,
          title: `Scheduled backup ${name} failed`,
          notifyOnly: admins,
          data: { file: name, reason },
          occurredAt: this.clock.now(),
        },
        manager,
      );
    });
  }
}
