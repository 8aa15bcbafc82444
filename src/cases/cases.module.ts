import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CasesController } from './cases.controller';
import { CasesRepository } from './cases.repository';
import { CasesService } from './cases.service';
import { LegalHoldController } from './legal-hold.controller';
import { LegalHoldService } from './legal-hold.service';
import { LookupsController } from './lookups.controller';

@Module({
  imports: [AuditModule, AuthModule],
  controllers: [CasesController, LookupsController, LegalHoldController],
  providers: [CasesRepository, CasesService, LegalHoldService],
  exports: [CasesRepository, LegalHoldService],
})
export class CasesModule {}
