import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { UsageService } from './usage.service';

/** Audit trail and usage counters; every module that audits or counts imports it. */
@Module({
  controllers: [AuditController],
  providers: [AuditRepository, AuditService, UsageService],
  exports: [AuditService, UsageService],
})
export class AuditModule {}
