import { Module } from '@nestjs/common';
import { AuditCheckpointsRepository } from './audit-checkpoints.repository';
import { AuditCheckpointsService } from './audit-checkpoints.service';
import { AuditController } from './audit.controller';
import { SigningKeyController } from './signing-key.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { UsageService } from './usage.service';

/** Audit trail and usage counters; every module that audits or counts imports it. */
@Module({
  controllers: [AuditController, SigningKeyController],
  providers: [
    AuditRepository,
    AuditService,
    UsageService,
    AuditCheckpointsRepository,
    AuditCheckpointsService,
  ],
  exports: [AuditService, UsageService, AuditCheckpointsService],
})
export class AuditModule {}
