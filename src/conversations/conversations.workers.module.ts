import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '../core/queue/queue-names';
import { ConversationIdleProcessor } from './conversation-idle.processor';
import { ConversationsModule } from './conversations.module';
import { TurnPersistenceProcessor } from './turns/turn-persistence.processor';

/** The turn-persistence and conversation-idle processors; imported by WorkersModule. */
@Module({
  imports: [ConversationsModule, BullModule.registerQueue({ name: QueueName.ConversationIdle })],
  providers: [TurnPersistenceProcessor, ConversationIdleProcessor],
})
export class ConversationsWorkersModule {}
