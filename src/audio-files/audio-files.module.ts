import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { AudioArchiveService } from './audio-archive.service';
import { AudioFilesController, CaseAudioController } from './audio-files.controller';
import { AudioFilesRepository } from './audio-files.repository';
import { AudioFilesService } from './audio-files.service';
import { LegalHoldController } from './legal-hold.controller';
import { LegalHoldService } from './legal-hold.service';

@Module({
  imports: [
    BullModule.registerQueue({ name: QueueName.AudioArchive }, { name: QueueName.Retention }),
  ],
  controllers: [CaseAudioController, AudioFilesController, LegalHoldController],
  providers: [AudioFilesRepository, AudioFilesService, AudioArchiveService, LegalHoldService],
  exports: [AudioFilesService, AudioArchiveService, AudioFilesRepository],
})
export class AudioFilesModule {}
