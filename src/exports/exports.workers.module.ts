import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { ExportsModule } from './exports.module';
import { ExportsProcessor } from './exports.processor';

/** The processor of the `case-export` queue (imported by WorkersModule). */
@Module({
  imports: [ExportsModule, BullModule.registerQueue({ name: QueueName.CaseExport })],
  providers: [ExportsProcessor],
})
export class ExportsWorkersModule {}
