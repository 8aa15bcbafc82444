import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AccessScope } from '../core/access/access-decision';
import { visibleConversations } from '../core/access/access.predicates';
import { ReplicaReads } from '../core/database/replica-reads';

/** One hour of the window that had turns; `bucket` counts hours from the window's start. */
export interface ActivityBucket {
  bucket: number;
  turns: number;
  activeConversations: number;
  averageProcessingTimeMs: number | null;
}

export interface ActivityTotals {
  turns: number;
  conversations: number;
  turnsCleaned: number;
  errorsFiltered: number;
}

export interface ConversationActivity {
  /** Only the hours with turns, oldest first. */
  buckets: ActivityBucket[];
  totals: ActivityTotals;
}

/**
 * Turn activity over the conversations a scope may see. `turns` is partitioned by the
 * month each conversation started, not by `spoken_at`, so no partition can be ruled out by
 * the window alone: the lateral subquery runs once per visible conversation that has
 * turns, and its `partition_month = c.partition_month` lets the executor prune the Append
 * to that one partition, where `turns_conversation_spoken_idx (conversation_id,
 * spoken_at)` reads just the window's rows. The GROUP BY keeps the planner from flattening
 * the lateral into a hash join over every partition. Conversations without a persisted
 * turn (`turns_count = 0`) are skipped before any turn is read.
 */
const ACTIVITY = (visible: string) => `
WITH visible AS (
  SELECT c.id, c.partition_month FROM conversations c
   WHERE c.status <> 'deleted' AND c.turns_count > 0 AND ${visible}
),
per_hour AS (
  SELECT h.* FROM visible c CROSS JOIN LATERAL (
    SELECT c.id AS conversation_id,
           floor(extract(epoch FROM t.spoken_at - $1::timestamptz) / 3600)::int AS bucket,
           count(*) AS turns,
           sum(t.processing_time_ms) AS processing_sum,
           count(t.processing_time_ms) AS processing_count,
           count(*) FILTER (WHERE t.cleaning_applied) AS cleaned,
           count(*) FILTER (WHERE t.transcription_error_detected) AS errors
      FROM turns t
     WHERE t.conversation_id = c.id AND t.partition_month = c.partition_month
       AND t.spoken_at >= $1 AND t.spoken_at < $2
     GROUP BY 2
  ) h
)
SELECT json_build_object(
  'buckets', coalesce((SELECT json_agg(b ORDER BY b.bucket) FROM (
      SELECT bucket, sum(turns) AS turns, count(*) AS "activeConversations",
             (sum(processing_sum)::float8 / nullif(sum(processing_count), 0)) AS "averageProcessingTimeMs"
        FROM per_hour GROUP BY bucket) b), '[]'),
  'totals', json_build_object(
      'turns', (SELECT coalesce(sum(turns), 0) FROM per_hour),
      'conversations', (SELECT count(DISTINCT conversation_id) FROM per_hour),
      'turnsCleaned', (SELECT coalesce(sum(cleaned), 0) FROM per_hour),
      'errorsFiltered', (SELECT coalesce(sum(errors), 0) FROM per_hour))
) AS activity`;

/** The activity statement and its parameters (exported for the spec that checks its plan). */
export function activityStatement(
  scope: AccessScope,
  from: Date,
  to: Date,
): { sql: string; parameters: unknown[] } {
  const parameters: unknown[] = [from, to];
  const visible = visibleConversations(scope, 'c', (actorId) => {
    parameters.push(actorId);
    return `$${parameters.length}`;
  });
  return { sql: ACTIVITY(visible), parameters };
}

/** Cross-conversation statistics (GET /stats/conversations); reads go to a replica if any. */
@Injectable()
export class ConversationStatsRepository {
  constructor(private readonly replica: ReplicaReads) {}

  /** Turns spoken in [from, to), bucketed by whole hours from `from`. */
  activity(scope: AccessScope, from: Date, to: Date): Promise<ConversationActivity> {
    return this.replica.read((manager) => this.activityOn(manager, scope, from, to));
  }

  private async activityOn(
    manager: EntityManager,
    scope: AccessScope,
    from: Date,
    to: Date,
  ): Promise<ConversationActivity> {
    const { sql, parameters } = activityStatement(scope, from, to);
    const [row] = await manager.query<{ activity: ConversationActivity }[]>(sql, parameters);
    return row!.activity;
  }
}
