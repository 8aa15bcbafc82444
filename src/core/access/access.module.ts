import { Module } from '@nestjs/common';
import { AccessRepository } from './access.repository';
import { AccessService } from './access.service';

/**
 * Who sees which case, audio file, transcription and conversation. Depends on no
 * feature module: it reads the participation tables with SQL (AccessRepository).
 * Exported everywhere through SecurityModule, whose guard uses it.
 */
@Module({
  providers: [AccessRepository, AccessService],
  exports: [AccessRepository, AccessService],
})
export class AccessModule {}
