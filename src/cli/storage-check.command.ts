import { Command, CommandRunner, Option } from 'nest-commander';
import { formatBytes } from '../maintenance/backup/progress';
import { MaintenanceService } from '../maintenance/maintenance.service';

/* eslint-disable no-console -- a CLI talks to its operator on stdout */

interface StorageCheckFlags {
  fix?: boolean;
}

@Command({
  name: 'storage-check',
  description:
    'Compare storage with the database: objects without a row, rows whose object is ' +
    'missing, upload leftovers older than an hour (--fix deletes strays and marks missing ' +
    'rows failed)',
})
export class StorageCheckCommand extends CommandRunner {
  constructor(private readonly maintenance: MaintenanceService) {
    super();
  }

  @Option({ flags: '--fix', description: 'delete orphans and leftovers, mark missing rows failed' })
  parseFix(): boolean {
    return true;
  }

  async run(_: string[], flags: StorageCheckFlags): Promise<void> {
    const fix = flags.fix === true;
    const report = await this.maintenance.checkStorage(fix);
    console.log(`Storage: ${report.objects} audio objects, ${formatBytes(report.bytes)}.`);
    console.log(
      `Orphans (no live row, older than an hour): ${report.orphans.count} ` +
        `(${formatBytes(report.orphans.bytes)})${fix ? `, ${report.orphans.removed} deleted` : ''}.`,
    );
    for (const key of report.orphans.keys) console.log(`  orphan  ${key}`);
    console.log(
      `Missing (row without an object): ${report.missing.count}` +
        `${fix ? `, ${report.missing.marked} newly marked failed` : ''}.`,
    );
    for (const id of report.missing.ids) console.log(`  missing audio ${id}`);
    console.log(
      report.leftovers === null
        ? 'Upload leftovers: this storage server cannot list unfinished uploads (use a bucket lifecycle rule).'
        : `Upload leftovers older than an hour: ${report.leftovers.count}` +
            `${fix ? `, ${report.leftovers.removed} removed` : ''}.`,
    );
    const found = report.orphans.count + report.missing.count + (report.leftovers?.count ?? 0);
    if (!fix && found > 0) console.log('Run again with --fix to repair.');
    // Findings left unrepaired are a non-zero exit, so a cron wrapper can alert on them.
    if (!fix && found > 0) process.exitCode = 1;
  }
}
