import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { AppConfig } from '../core/config/app-config';
import { JobHandlers, JobProcessor } from '../core/queue/job-processor';
import { QueueName } from '../core/queue/queue-names';
import {
  MAINTENANCE_JOB_OPTIONS,
  MAINTENANCE_SCHEDULERS,
  MaintenanceJobData,
  MaintenanceJobName,
} from './maintenance-jobs';
import { MaintenanceService } from './maintenance.service';

/**
 * The `maintenance` queue: the nightly storage check (with fixes) and purge on
 * MAINTENANCE_CRON, and backups on BACKUP_SCHEDULE. Every worker upserts the same
 * schedulers, so each run happens once however many workers there are; a schedule
 * switched off is removed.
 */
@Processor(QueueName.Maintenance)
export class MaintenanceProcessor extends JobProcessor<MaintenanceJobName, MaintenanceJobData> {
  protected readonly queueName = QueueName.Maintenance;
  protected readonly jobNames = Object.values(MaintenanceJobName);
  protected readonly handlers: JobHandlers<MaintenanceJobName, MaintenanceJobData>;

  constructor(
    maintenance: MaintenanceService,
    private readonly config: AppConfig,
    @InjectQueue(QueueName.Maintenance) private readonly queue: Queue<MaintenanceJobData>,
  ) {
    super();
    this.handlers = {
      [MaintenanceJobName.StorageCheck]: () => maintenance.checkStorage(true),
      [MaintenanceJobName.Purge]: () => maintenance.purge(),
      [MaintenanceJobName.Backup]: () => maintenance.backup(),
    };
  }

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    const nightly = this.config.get('MAINTENANCE_CRON');
    await this.schedule(MaintenanceJobName.StorageCheck, nightly === 'off' ? undefined : nightly);
    await this.schedule(MaintenanceJobName.Purge, nightly === 'off' ? undefined : nightly);
    await this.schedule(MaintenanceJobName.Backup, this.config.get('BACKUP_SCHEDULE'));
  }

  private async schedule(name: MaintenanceJobName, pattern: string | undefined): Promise<void> {
    const id = MAINTENANCE_SCHEDULERS[name];
    if (!pattern) {
      await this.queue.removeJobScheduler(id);
      return;
    }
    await this.queue.upsertJobScheduler(
      id,
      { pattern },
      { name, data: { requestedBy: null }, opts: MAINTENANCE_JOB_OPTIONS },
    );
  }
}
