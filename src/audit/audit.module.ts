import { Global, Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { UsageService } from './usage.service';

/** Global: every feature module audits and counts usage. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [AuditRepository, AuditService, UsageService],
  exports: [AuditService, UsageService],
})
export class AuditModule {}
