import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CASE_ACCESS } from '../core/security/case-access';
import { CasesAccessResolver } from './case-access.resolver';
import { CasesController } from './cases.controller';
import { CasesRepository } from './cases.repository';
import { CasesService } from './cases.service';
import { LookupsController } from './lookups.controller';

@Module({
  imports: [AuthModule],
  controllers: [CasesController, LookupsController],
  providers: [
    CasesRepository,
    CasesService,
    { provide: CASE_ACCESS, useClass: CasesAccessResolver },
  ],
  exports: [CasesRepository, CASE_ACCESS],
})
export class CasesModule {}
