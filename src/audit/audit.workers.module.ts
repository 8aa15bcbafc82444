import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { AuditCheckpointProcessor } from './audit-checkpoint.processor';
import { AuditModule } from './audit.module';

/** The processor of the `audit-checkpoint` queue (imported by WorkersModule). */
@Module({
  imports: [AuditModule, BullModule.registerQueue({ name: QueueName.AuditCheckpoint })],
  providers: [AuditCheckpointProcessor],
})
export class AuditWorkersModule {}
