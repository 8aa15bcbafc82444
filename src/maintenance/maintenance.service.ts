import { Injectable } from '@nestjs/common';
import { AudioArchiveService } from '../audio-files/audio-archive.service';
import { StorageCheckReport, StorageCheckService } from '../audio-files/storage-check.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { TurnPurgeService } from '../conversations/turns/turn-purge.service';
import { MaintenanceKind } from './entities/maintenance-run.entity';
import { MaintenanceRunsRepository } from './maintenance-runs.repository';
import { redactCredentials, ScheduledBackupsService } from './scheduled-backups.service';

export interface PurgeResult {
  deletedBefore: string;
  audioDeleteJobs: number;
  conversations: number;
  turnsDeleted: number;
}

/** What `/stats/system` and `/metrics` show of the lifecycle jobs. */
export interface MaintenanceSummary {
  storage: {
    objects: number | null;
    bytes: number | null;
    lastCheck: {
      at: string;
      orphans: number;
      missing: number;
      leftovers: number | null;
    } | null;
  };
  backups: { lastSuccessAt: string | null; lastFailureAt: string | null; lastFile: string | null };
}

/**
 * The data lifecycle jobs (SPEC section 12), each recorded as a run with its result or
 * error, so the last outcome survives restarts and is the same for every process.
 */
@Injectable()
export class MaintenanceService {
  constructor(
    private readonly storageCheck: StorageCheckService,
    private readonly archive: AudioArchiveService,
    private readonly turnPurge: TurnPurgeService,
    private readonly backups: ScheduledBackupsService,
    private readonly runs: MaintenanceRunsRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  checkStorage(fix: boolean): Promise<StorageCheckReport> {
    return this.recorded('storage-check', () => this.storageCheck.check({ fix }));
  }

  purge(): Promise<PurgeResult> {
    return this.recorded('purge', async () => {
      const days = this.config.get('CASE_PURGE_DAYS');
      const deletedBefore = this.clock.fromNow(-days * 24 * 3600 * 1000);
      const audio = await this.archive.purgeDeletedCases(
        deletedBefore,
        `Purge: case deleted more than ${days} days ago`,
      );
      const turns = await this.turnPurge.purgeDeletedCases(deletedBefore);
      return {
        deletedBefore: deletedBefore.toISOString(),
        audioDeleteJobs: audio.deleteJobs,
        conversations: turns.conversations,
        turnsDeleted: turns.turns,
      };
    });
  }

  backup(): Promise<unknown> {
    return this.recorded('backup', () => this.backups.run());
  }

  async summary(): Promise<MaintenanceSummary> {
    const [check, success, failure] = await Promise.all([
      this.runs.latest('storage-check', true),
      this.runs.latest('backup', true),
      this.runs.latest('backup', false),
    ]);
    const report = check?.result as StorageCheckReport | undefined;
    return {
      storage: {
        objects: report?.objects ?? null,
        bytes: report?.bytes ?? null,
        lastCheck: report
          ? {
              at: check!.finishedAt.toISOString(),
              orphans: report.orphans.count,
              missing: report.missing.count,
              leftovers: report.leftovers?.count ?? null,
            }
          : null,
      },
      backups: {
        lastSuccessAt: success?.finishedAt.toISOString() ?? null,
        lastFailureAt: failure?.finishedAt.toISOString() ?? null,
        lastFile: (success?.result as { file?: string } | undefined)?.file ?? null,
      },
    };
  }

  private async recorded<T>(kind: MaintenanceKind, work: () => Promise<T>): Promise<T> {
    const startedAt = this.clock.now();
    try {
      const result = await work();
      await this.runs.record({
        kind,
        startedAt,
        finishedAt: this.clock.now(),
        succeeded: true,
        result: result as Record<string, unknown>,
        error: null,
      });
      return result;
    } catch (error) {
      await this.runs.record({
        kind,
        startedAt,
        finishedAt: this.clock.now(),
        succeeded: false,
        result: {},
        error: redactCredentials(error instanceof Error ? error.message : String(error)),
      });
      throw error;
    }
  }
}
