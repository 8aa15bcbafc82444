import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { TurnDeadLetters } from '../conversations/turns/turn-dead-letters';
import { FlushScheduler } from '../conversations/turns/flush-scheduler';
import { DeadLetterPage, DeadLetterResponse, ReplayResponse } from './dto/dead-letter.dto';

@Injectable()
export class DeadLettersService {
  constructor(
    private readonly deadLetters: TurnDeadLetters,
    private readonly flush: FlushScheduler,
    private readonly audit: AuditService,
  ) {}

  async list(after: string | undefined, limit: number): Promise<DeadLetterPage> {
    const [letters, total] = await Promise.all([
      this.deadLetters.list(after, limit),
      this.deadLetters.count(),
    ]);
    return {
      data: letters.map(DeadLetterResponse.from),
      total,
      nextCursor: letters.length === limit ? letters[letters.length - 1]!.id : null,
    };
  }

  /** Replays and audits one entry per conversation touched, then wakes the persisters. */
  async replay(ids: string[] | undefined, limit: number): Promise<ReplayResponse> {
    const replayed = await this.deadLetters.replay(ids, limit);
    const byConversation = new Map<string, string[]>();
    for (const letter of replayed) {
      const list = byConversation.get(letter.conversationId) ?? [];
      list.push(String(letter.turn.messageNumber));
      byConversation.set(letter.conversationId, list);
    }
    if (byConversation.size > 0) {
      await this.audit.recordMany(
        [...byConversation].map(([conversationId, numbers]) => ({
          action: 'conversation.turns_replay' as const,
          resourceType: 'conversation',
          resourceId: conversationId,
          details: { messageNumbers: numbers.slice(0, 1000), count: numbers.length },
        })),
      );
      await this.flush.flushNow();
    }
    return { replayed: replayed.map((l) => l.id), remaining: await this.deadLetters.count() };
  }
}
