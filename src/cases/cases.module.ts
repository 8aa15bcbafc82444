import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CasesController } from './cases.controller';
import { CasesRepository } from './cases.repository';
import { CasesService } from './cases.service';
import { LookupsController } from './lookups.controller';

@Module({
  imports: [AuthModule],
  controllers: [CasesController, LookupsController],
  providers: [CasesRepository, CasesService],
  exports: [CasesRepository],
})
export class CasesModule {}
