import { Module } from '@nestjs/common';
import { ConversationsModule } from './conversations.module';
import { TurnPersistenceProcessor } from './turns/turn-persistence.processor';

/** The turn-persistence processor; imported by WorkersModule. */
@Module({
  imports: [ConversationsModule],
  providers: [TurnPersistenceProcessor],
})
export class ConversationsWorkersModule {}
