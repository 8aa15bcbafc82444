import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { MaintenanceModule } from './maintenance.module';
import { MaintenanceProcessor } from './maintenance.processor';

/** The processor of the `maintenance` queue (imported by WorkersModule). */
@Module({
  imports: [MaintenanceModule, BullModule.registerQueue({ name: QueueName.Maintenance })],
  providers: [MaintenanceProcessor],
})
export class MaintenanceWorkersModule {}
