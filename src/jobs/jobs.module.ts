import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ConversationsModule } from '../conversations/conversations.module';
import { QueueName } from '../core/queue/queue-names';
import { DeadLettersController } from './dead-letters.controller';
import { DeadLettersService } from './dead-letters.service';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { QueueBoard } from './queue-board';

/** GET /jobs/:id, the Bull Board UI and the turn dead letters, in the API process. */
@Module({
  imports: [
    AuditModule,
    ConversationsModule,
    BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name }))),
  ],
  controllers: [JobsController, DeadLettersController],
  providers: [JobsService, QueueBoard, DeadLettersService],
})
export class JobsModule {}
