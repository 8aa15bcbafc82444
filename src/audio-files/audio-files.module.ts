import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CasesModule } from '../cases/cases.module';
import { QueueName } from '../core/queue/queue-names';
import { StorageCheckService } from './storage-check.service';
import { AudioArchiveService } from './audio-archive.service';
import { AudioFilesController, CaseAudioController } from './audio-files.controller';
import { AudioFilesRepository } from './audio-files.repository';
import { AudioFilesService } from './audio-files.service';
import { AudioJobsService } from './audio-jobs.service';
import { AudioProcessingService } from './audio-processing.service';
import { AudioTransferService } from './audio-transfer.service';

@Module({
  imports: [
    AuditModule,
    CasesModule,
    BullModule.registerQueue({ name: QueueName.AudioArchive }, { name: QueueName.Retention }),
  ],
  controllers: [CaseAudioController, AudioFilesController],
  providers: [
    AudioFilesRepository,
    AudioFilesService,
    AudioTransferService,
    AudioProcessingService,
    AudioJobsService,
    AudioArchiveService,
    StorageCheckService,
  ],
  exports: [AudioProcessingService, AudioJobsService, AudioArchiveService, StorageCheckService],
})
export class AudioFilesModule {}
