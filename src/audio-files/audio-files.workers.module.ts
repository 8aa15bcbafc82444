import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { QueueName } from '../core/queue/queue-names';
import { AudioArchiveProcessor } from './audio-archive.processor';
import { AudioFilesModule } from './audio-files.module';
import { RetentionProcessor } from './retention.processor';

/** The processors of the `audio-archive` and `retention` queues (imported by WorkersModule). */
@Module({
  imports: [
    AuditModule,
    AudioFilesModule,
    BullModule.registerQueue({ name: QueueName.AudioArchive }, { name: QueueName.Retention }),
  ],
  providers: [AudioArchiveProcessor, RetentionProcessor],
})
export class AudioFilesWorkersModule {}
