import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { QueueBoard } from './queue-board';

/** GET /jobs/:id and the Bull Board UI, in the API process. */
@Module({
  imports: [BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name })))],
  controllers: [JobsController],
  providers: [JobsService, QueueBoard],
})
export class JobsModule {}
