import { Injectable } from '@nestjs/common';
import { accessScope } from '../core/access/access-decision';
import { Clock } from '../core/clock/clock';
import type { Actor } from '../core/security/actor';
import { ConversationStatsRepository } from './conversation-stats.repository';
import { ConversationActivityResponse } from './dto/conversation-stats.dto';

const HOUR_MS = 3_600_000;

/**
 * GET /stats/conversations: turn activity over the conversations the caller may see.
 *
 * Decisions: the window is the last `hours` whole UTC hours, the current one (still
 * running) being the newest, so `hours=24` at 10:20 covers 11:00 yesterday to 11:00
 * today; a turn counts in the hour of its `spokenAt`. Every hour is listed, oldest
 * first, an hour without turns as zeros (average null), so a client can chart the
 * array as is. As in GET /conversations/:id/stats, only persisted turns count, each
 * as its latest persisted revision made it: the buffer drains within
 * TURN_FLUSH_DELAY_MS, and reading every visible conversation's Redis buffer would cost
 * more than the lag. Deleted conversations are left out (they are 404 everywhere).
 */
@Injectable()
export class ConversationStatsService {
  constructor(
    private readonly stats: ConversationStatsRepository,
    private readonly clock: Clock,
  ) {}

  async activity(actor: Actor, hours: number): Promise<ConversationActivityResponse> {
    const to = (Math.floor(this.clock.nowMs() / HOUR_MS) + 1) * HOUR_MS;
    const from = to - hours * HOUR_MS;
    const { buckets, totals } = await this.stats.activity(
      accessScope(actor),
      new Date(from),
      new Date(to),
    );
    const byBucket = new Map(buckets.map((b) => [b.bucket, b]));
    return {
      hourly: Array.from({ length: hours }, (_, index) => {
        const bucket = byBucket.get(index);
        return {
          hour: new Date(from + index * HOUR_MS).toISOString(),
          turns: bucket?.turns ?? 0,
          activeConversations: bucket?.activeConversations ?? 0,
          averageProcessingTimeMs: bucket?.averageProcessingTimeMs ?? null,
        };
      }),
      totals,
    };
  }
}
