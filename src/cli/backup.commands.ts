import { Command, CommandRunner, Option } from 'nest-commander';
import { BackupService } from '../maintenance/backup/backup.service';
import { describeBreak } from '../audit/audit-chain';
import { formatBytes, terminalProgress } from '../maintenance/backup/progress';
import { RestoreService } from '../maintenance/backup/restore.service';

/* eslint-disable no-console -- a CLI talks to its operator on stdout */

@Command({
  name: 'backup',
  arguments: '<file>',
  argsDescription: { file: 'archive to write: .tar, or .tar.gz / .tgz for gzip' },
  description: 'Write the database (pg_dump) and every stored object into one tar archive',
})
export class BackupCommand extends CommandRunner {
  constructor(private readonly backups: BackupService) {
    super();
  }

  async run([file]: string[]): Promise<void> {
    const report = await this.backups.backup(file!, {
      progress: terminalProgress(),
      log: (line) => console.error(line),
    });
    const { manifest } = report;
    console.log(
      `Wrote ${report.file} (${formatBytes(report.archiveBytes)}): database dump ` +
        `(${formatBytes(manifest.database.size)}, ${manifest.migrations.length} migrations) and ` +
        `${manifest.objectCount} objects (${formatBytes(manifest.storage.totalBytes)}).`,
    );
    if (report.vanished.length > 0) {
      console.log(`Warning: ${report.vanished.length} objects were deleted while the backup ran.`);
    }
    if (report.unmatchedAudioRows > 0) {
      console.log(
        `Warning: ${report.unmatchedAudioRows} audio files in the database have no object in ` +
          'this archive (archived or uploaded while it ran?). Run it again with the workers ' +
          'stopped for an exact copy.',
      );
    }
  }
}

interface RestoreFlags {
  force?: boolean;
}

@Command({
  name: 'restore',
  arguments: '<file>',
  argsDescription: { file: 'archive written by `backup`' },
  description:
    'Restore a backup archive: database and stored objects, then verify the audit chain ' +
    '(refuses a database with users or cases unless --force)',
})
export class RestoreCommand extends CommandRunner {
  constructor(private readonly restores: RestoreService) {
    super();
  }

  async run([file]: string[], flags: RestoreFlags): Promise<void> {
    const report = await this.restores.restore(file!, {
      force: flags.force === true,
      progress: terminalProgress(),
      log: (line) => console.error(line),
    });
    const rows = Object.entries(report.rows)
      .map(([table, n]) => `${table} ${n}`)
      .join(', ');
    console.log(
      `Restored the database${report.cleaned ? ' (replacing the existing schema)' : ''}: ${rows}.`,
    );
    console.log(
      `Restored ${report.objectsRestored} objects (${formatBytes(report.bytesRestored)}); ` +
        'every sha256 matches the manifest.',
    );
    if (report.strayObjects > 0) {
      console.log(
        `${report.strayObjects} objects in storage are not in the backup; they were left in place.`,
      );
    }
    if (report.pendingMigrations.length > 0) {
      console.log(
        `The backup predates ${report.pendingMigrations.length} migrations of this version: ` +
          'run `migrate` next.',
      );
    }
    const { audit } = report;
    console.log(
      audit.valid
        ? `Audit chain valid: ${audit.checked} entries checked.`
        : `Audit chain BROKEN at entry ${audit.firstBrokenId ?? '?'} (${describeBreak(audit)}; ` +
            `${audit.checked} checked).`,
    );
    if (!audit.valid) process.exitCode = 1;
  }

  @Option({
    flags: '-f, --force',
    description: 'overwrite a database that already holds data (drops and recreates its tables)',
  })
  parseForce(): boolean {
    return true;
  }
}
