import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { QueueName } from '../core/queue/queue-names';
import { SseModule } from '../core/sse/sse.module';
import { ConversationParticipantsController } from './conversation-participants.controller';
import { ConversationParticipantsService } from './conversation-participants.service';
import { ConversationStatsController } from './conversation-stats.controller';
import { ConversationStatsRepository } from './conversation-stats.repository';
import { ConversationStatsService } from './conversation-stats.service';
import { ConversationsController } from './conversations.controller';
import { ConversationsRepository } from './conversations.repository';
import { ConversationsService } from './conversations.service';
import { FlushScheduler } from './turns/flush-scheduler';
import { TurnBuffer } from './turns/turn-buffer';
import { TurnPersistenceService } from './turns/turn-persistence.service';
import { TurnDeadLetters } from './turns/turn-dead-letters';
import { TurnPurgeService } from './turns/turn-purge.service';
import { TurnsRepository } from './turns/turns.repository';
import { TurnsController } from './turns/turns.controller';
import { TurnsService } from './turns/turns.service';

@Module({
  imports: [
    AuditModule,
    AuthModule,
    SseModule,
    BullModule.registerQueue({ name: QueueName.TurnPersistence }),
  ],
  controllers: [
    ConversationsController,
    ConversationParticipantsController,
    TurnsController,
    ConversationStatsController,
  ],
  providers: [
    ConversationsRepository,
    TurnsRepository,
    ConversationsService,
    ConversationParticipantsService,
    ConversationStatsRepository,
    ConversationStatsService,
    TurnsService,
    TurnBuffer,
    FlushScheduler,
    TurnPersistenceService,
    TurnPurgeService,
    TurnDeadLetters,
  ],
  exports: [
    ConversationsService,
    TurnPersistenceService,
    FlushScheduler,
    TurnBuffer,
    ConversationsRepository,
    TurnPurgeService,
    TurnDeadLetters,
  ],
})
export class ConversationsModule {}
