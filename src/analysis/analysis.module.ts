import { Module } from '@nestjs/common';
import { AudioFilesModule } from '../audio-files/audio-files.module';
import { AuditModule } from '../audit/audit.module';
import { TranscriptionsModule } from '../transcriptions/transcriptions.module';
import { AudioAnalysisController, TranscriptionAnalysisController } from './analysis.controller';
import { AnalysisRepository } from './analysis.repository';
import { AnalysisService } from './analysis.service';

@Module({
  imports: [AuditModule, AudioFilesModule, TranscriptionsModule],
  controllers: [TranscriptionAnalysisController, AudioAnalysisController],
  providers: [AnalysisRepository, AnalysisService],
})
export class AnalysisModule {}
