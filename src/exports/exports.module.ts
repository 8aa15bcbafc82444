import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { QueueName } from '../core/queue/queue-names';
import { ExportBuilder } from './export-builder';
import { CaseExportsController, ExportsController } from './exports.controller';
import { ExportsRepository } from './exports.repository';
import { ExportsService } from './exports.service';

/** Signed case exports (SPEC section 13): POST /cases/:id/export, GET /exports/:id. */
@Module({
  imports: [AuditModule, BullModule.registerQueue({ name: QueueName.CaseExport })],
  controllers: [CaseExportsController, ExportsController],
  providers: [ExportsRepository, ExportBuilder, ExportsService],
  exports: [ExportsService],
})
export class ExportsModule {}
