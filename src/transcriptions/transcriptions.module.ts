import { Module } from '@nestjs/common';
import { AudioFilesModule } from '../audio-files/audio-files.module';
import { AuditModule } from '../audit/audit.module';
import {
  AudioTranscriptionsController,
  TranscriptionsController,
} from './transcriptions.controller';
import { TranscriptionsRepository } from './transcriptions.repository';
import { TranscriptionsService } from './transcriptions.service';

@Module({
  imports: [AuditModule, AudioFilesModule],
  controllers: [AudioTranscriptionsController, TranscriptionsController],
  providers: [TranscriptionsRepository, TranscriptionsService],
  exports: [TranscriptionsRepository, TranscriptionsService],
})
export class TranscriptionsModule {}
