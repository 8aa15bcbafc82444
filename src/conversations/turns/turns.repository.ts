import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { filterConditions, TurnFilter } from './turn-filter';
import { RevisedTurn, RevisionHistoryEntry, RevisionRecord, TurnRecord } from './turn-record';

/** A persisted turn as the read paths return it. */
export interface StoredTurn extends RevisedTurn {
  id: string;
  persistedAt: string;
}

/** A `contextDetected` value (null: none detected) and its turns. */
export interface ContextTurnStats {
  value: string | null;
  turns: number;
  averageProcessingTimeMs: number | null;
  highConfidenceTurns: number;
}

export interface ConversationTurnStats {
  turns: number;
  speakers: { speaker: string; turns: number }[];
  averageProcessingTimeMs: number | null;
  averageQueueTimeMs: number | null;
  confidence: { high: number; medium: number; low: number };
  turnsCleaned: number;
  errorsFiltered: number;
  averageLatencyMs: number | null;
  contexts: ContextTurnStats[];
  domains: { value: string | null; turns: number }[];
  turnsPerHour: { hour: string; turns: number }[];
}

const COLUMNS = `
  t.id::text AS id, t.conversation_id AS "conversationId", t.message_number AS "messageNumber", t.speaker,
  t.raw_text AS "rawText", t.cleaned_text AS "cleanedText", t.spoken_at AS "spokenAt", t.confidence,
  t.cleaning_applied AS "cleaningApplied", t.cleaning_level AS "cleaningLevel", t.corrections,
  t.context_detected AS "contextDetected", t.business_domain AS "businessDomain",
  t.conversation_flow AS "conversationFlow", t.ai_model_used AS "aiModelUsed",
  t.transcription_error_detected AS "transcriptionErrorDetected", t.processing_time_ms AS "processingTimeMs",
  t.sliding_window_size AS "slidingWindowSize", t.context_turns_used AS "contextTurnsUsed",
  t.engine_request_id AS "engineRequestId", t.websocket_latency_ms AS "websocketLatencyMs",
  t.ingested_by AS "ingestedBy", t.received_at AS "receivedAt", t.persisted_at AS "persistedAt",
  t.revision, t.updated_at AS "updatedAt"`;

type Row = Omit<StoredTurn, 'spokenAt' | 'receivedAt' | 'persistedAt' | 'updatedAt'> & {
  spokenAt: Date;
  receivedAt: Date;
  persistedAt: Date;
  updatedAt: Date | null;
};

function toStored(row: Row): StoredTurn {
  return {
    ...row,
    spokenAt: row.spokenAt.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    persistedAt: row.persistedAt.toISOString(),
    updatedAt: row.updatedAt ? row.updatedAt.toISOString() : null,
  };
}

/**
 * One statement per batch of revisions: keep each in the history (a revision already
 * there is skipped), then set each turn to the highest revision of the batch unless the
 * row already has a higher one. Every revision carries the full cleaning state it leads
 * to, so applying only the highest is exact, and batches may commit in any order: two
 * concurrent updates of one row serialize on its lock and the second re-checks
 * `t.revision < l.revision` against the first's result.
 */
const APPEND_REVISIONS = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS r(
    "conversationId" uuid, "messageNumber" int, revision int, "changedBy" uuid,
    "changedAt" timestamptz, changes jsonb, state jsonb)
),
history AS (
  INSERT INTO turn_revisions (conversation_id, message_number, revision, changed_by, changed_at, changes)
  SELECT "conversationId", "messageNumber", revision, "changedBy", "changedAt", changes FROM input
  ON CONFLICT DO NOTHING
  RETURNING 1
),
latest AS (
  SELECT DISTINCT ON ("conversationId", "messageNumber") * FROM input WHERE state IS NOT NULL
   ORDER BY "conversationId", "messageNumber", revision DESC
),
applied AS (
  UPDATE turns t
     SET cleaned_text = l.state->>'cleanedText',
         cleaning_applied = (l.state->>'cleaningApplied')::boolean,
         cleaning_level = l.state->>'cleaningLevel',
         corrections = l.state->'corrections',
         context_detected = l.state->>'contextDetected',
         business_domain = l.state->>'businessDomain',
         conversation_flow = l.state->>'conversationFlow',
         ai_model_used = l.state->>'aiModelUsed',
         transcription_error_detected = (l.state->>'transcriptionErrorDetected')::boolean,
         processing_time_ms = (l.state->>'processingTimeMs')::int,
         engine_request_id = l.state->>'engineRequestId',
         websocket_latency_ms = (l.state->>'websocketLatencyMs')::int,
         revision = l.revision,
         updated_at = l."changedAt"
    FROM latest l JOIN conversations c ON c.id = l."conversationId"
   WHERE t.conversation_id = l."conversationId" AND t.partition_month = c.partition_month
     AND t.message_number = l."messageNumber" AND t.revision < l.revision
  RETURNING 1
)
SELECT (SELECT count(*) FROM history)::int AS stored, (SELECT count(*) FROM applied)::int AS applied`;

/**
 * `confidence` is a `real` column. A number too small for a 4-byte float (valid in 0..1,
 * e.g. 1e-100) is refused by Postgres as "out of range", which would fail the whole batch
 * on every retry and stall persistence for everyone: it is stored as the 0 it rounds to.
 * 2^-150 is the largest double that rounds to 0 as a float (round half to even).
 */
const FLOAT4_ROUNDS_TO_ZERO = '7.006492321624085e-46';

/**
 * One statement per batch: insert the turns (duplicates skipped by the unique key),
 * then, from the rows actually inserted, bump each conversation's counters and each
 * ingesting user's monthly usage. A statement is atomic, so counters always equal rows,
 * and re-persisting a batch after a crash changes nothing. Rows are inserted in key order,
 * so two workers storing overlapping batches (a reclaimed entry) lock them in one order,
 * and so are the usage rows, which two statements of different conversations (lanes,
 * workers) share when the same users ingested into both.
 */
const APPEND_BATCH = `
WITH input AS (
  SELECT "conversationId" AS conversation_id, "messageNumber" AS message_number, speaker,
         "rawText" AS raw_text, "cleanedText" AS cleaned_text, "spokenAt" AS spoken_at, confidence,
         "cleaningApplied" AS cleaning_applied, "cleaningLevel" AS cleaning_level, corrections,
         "contextDetected" AS context_detected, "businessDomain" AS business_domain,
         "conversationFlow" AS conversation_flow, "aiModelUsed" AS ai_model_used,
         "transcriptionErrorDetected" AS transcription_error_detected,
         "processingTimeMs" AS processing_time_ms, "slidingWindowSize" AS sliding_window_size,
         "contextTurnsUsed" AS context_turns_used, "engineRequestId" AS engine_request_id,
         "websocketLatencyMs" AS websocket_latency_ms, "ingestedBy" AS ingested_by, "receivedAt" AS received_at
    FROM json_to_recordset($1::json) AS t(
      "conversationId" uuid, "messageNumber" int, speaker text, "rawText" text, "cleanedText" text,
      "spokenAt" timestamptz, confidence float8, "cleaningApplied" bool, "cleaningLevel" text,
      corrections jsonb, "contextDetected" text, "businessDomain" text, "conversationFlow" text,
      "aiModelUsed" text, "transcriptionErrorDetected" bool, "processingTimeMs" int,
      "slidingWindowSize" int, "contextTurnsUsed" int, "engineRequestId" text, "websocketLatencyMs" int,
      "ingestedBy" uuid, "receivedAt" timestamptz)
),
inserted AS (
  INSERT INTO turns (partition_month, conversation_id, message_number, speaker, raw_text, cleaned_text,
                     spoken_at, confidence, cleaning_applied, cleaning_level, corrections, context_detected,
                     business_domain, conversation_flow, ai_model_used, transcription_error_detected,
                     processing_time_ms, sliding_window_size, context_turns_used, engine_request_id,
                     websocket_latency_ms, ingested_by, received_at, persisted_at)
  SELECT c.partition_month, i.conversation_id, i.message_number, i.speaker, i.raw_text, i.cleaned_text,
         i.spoken_at, CASE WHEN abs(i.confidence) <= ${FLOAT4_ROUNDS_TO_ZERO} THEN 0 ELSE i.confidence END,
         i.cleaning_applied, i.cleaning_level, i.corrections,
         i.context_detected, i.business_domain, i.conversation_flow, i.ai_model_used,
         i.transcription_error_detected, i.processing_time_ms, i.sliding_window_size, i.context_turns_used,
         i.engine_request_id, i.websocket_latency_ms, i.ingested_by, i.received_at, $2
    FROM input i JOIN conversations c ON c.id = i.conversation_id
   ORDER BY i.conversation_id, i.message_number
  ON CONFLICT (conversation_id, message_number, partition_month) DO NOTHING
  RETURNING conversation_id, confidence, processing_time_ms, ingested_by, received_at
),
per_conversation AS (
  SELECT conversation_id, count(*) AS n, coalesce(sum(processing_time_ms), 0) AS processing,
         sum(confidence) AS confidence, max(received_at) AS last_received
    FROM inserted GROUP BY conversation_id
),
counters AS (
  UPDATE conversations c
     SET turns_count = c.turns_count + p.n,
         total_processing_time_ms = c.total_processing_time_ms + p.processing,
         confidence_sum = c.confidence_sum + p.confidence,
         last_activity_at = greatest(c.last_activity_at, p.last_received)
    FROM per_conversation p
   WHERE c.id = p.conversation_id
  RETURNING c.id, c.turns_count, c.total_processing_time_ms, c.confidence_sum, c.last_activity_at
),
usage AS (
  INSERT INTO usage_statistics (user_id, month, turns_ingested)
  SELECT ingested_by, date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC')::date, count(*)
    FROM inserted WHERE ingested_by IS NOT NULL GROUP BY ingested_by ORDER BY ingested_by
  ON CONFLICT (user_id, month) DO UPDATE SET turns_ingested = usage_statistics.turns_ingested + EXCLUDED.turns_ingested
  RETURNING user_id
)
SELECT (SELECT count(*) FROM inserted)::int AS inserted,
       (SELECT coalesce(json_agg(json_build_object(
          'conversationId', id, 'turnsCount', turns_count,
          'totalProcessingTimeMs', total_processing_time_ms,
          'averageConfidence', CASE WHEN turns_count > 0 THEN confidence_sum / turns_count END,
          'lastActivityAt', to_char(last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))), '[]'::json)
          FROM counters) AS counters,
       (SELECT count(*) FROM usage)::int AS users`;

/** A conversation's counters after a batch (the data of SSE `conversation.updated`). */
export interface ConversationCounters {
  conversationId: string;
  turnsCount: number;
  totalProcessingTimeMs: number;
  averageConfidence: number | null;
  lastActivityAt: string | null;
}

@Injectable()
export class TurnsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Persists a batch; returns how many rows were new. */
  async appendBatch(turns: TurnRecord[], persistedAt: Date): Promise<number> {
    return (await this.persistBatch(turns, persistedAt)).inserted;
  }

  /** Persists a batch; returns how many rows were new and the counters they moved. */
  persistBatch(
    turns: TurnRecord[],
    persistedAt: Date,
  ): Promise<{ inserted: number; counters: ConversationCounters[] }> {
    return this.persistJson(
      turns.map((t) => JSON.stringify(t)),
      persistedAt,
    );
  }

  /**
   * Persists a batch given as JSON, exactly as buffered: each string is one turn's JSON
   * or several turns' separated by commas (a JSON array's inside). They go into the
   * statement's one parameter as they are (json_to_recordset), so the worker neither
   * parses nor re-serializes turns, which was most of its CPU per turn.
   */
  async persistJson(
    turns: string[],
    persistedAt: Date,
  ): Promise<{ inserted: number; counters: ConversationCounters[] }> {
    if (turns.length === 0) return { inserted: 0, counters: [] };
    const [row] = await this.dataSource.query<
      { inserted: number; counters: ConversationCounters[] }[]
    >(APPEND_BATCH, [`[${turns.join(',')}]`, persistedAt]);
    return {
      inserted: row?.inserted ?? 0,
      counters: (row?.counters ?? []).map((c) => ({
        ...c,
        turnsCount: Number(c.turnsCount),
        totalProcessingTimeMs: Number(c.totalProcessingTimeMs),
      })),
    };
  }

  /** Stores revisions (see APPEND_REVISIONS); returns how many were new to the history. */
  async appendRevisions(revisions: RevisionRecord[]): Promise<number> {
    if (revisions.length === 0) return 0;
    const rows: (RevisionHistoryEntry & {
      conversationId: string;
      messageNumber: number;
      state: RevisionRecord['state'] | null;
    })[] = [];
    for (const r of revisions) {
      const { conversationId, messageNumber } = r;
      rows.push({
        conversationId,
        messageNumber,
        revision: r.revision,
        changedBy: r.changedBy,
        changedAt: r.changedAt,
        changes: r.changes,
        state: r.state,
      });
      if (r.original) rows.push({ conversationId, messageNumber, ...r.original, state: null });
    }
    const [row] = await this.dataSource.query<{ stored: number }[]>(APPEND_REVISIONS, [
      JSON.stringify(rows),
    ]);
    return row?.stored ?? 0;
  }

  /** One persisted turn, or undefined. */
  async findOne(
    conversationId: string,
    partitionMonth: string,
    messageNumber: number,
  ): Promise<StoredTurn | undefined> {
    const [row] = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM turns t
        WHERE t.conversation_id = $1 AND t.partition_month = $2 AND t.message_number = $3`,
      [conversationId, partitionMonth, messageNumber],
    );
    return row ? toStored(row) : undefined;
  }

  /** The persisted revisions of one turn, oldest first. */
  async revisions(conversationId: string, messageNumber: number): Promise<RevisionHistoryEntry[]> {
    const rows = await this.dataSource.query<
      (Omit<RevisionHistoryEntry, 'changedAt'> & { changedAt: Date })[]
    >(
      `SELECT revision, changed_by AS "changedBy", changed_at AS "changedAt", changes
         FROM turn_revisions WHERE conversation_id = $1 AND message_number = $2
        ORDER BY revision`,
      [conversationId, messageNumber],
    );
    return rows.map((r) => ({ ...r, changedAt: r.changedAt.toISOString() }));
  }

  /**
   * Turns with messageNumber > after matching `filter`, ascending (the partition key
   * prunes to one partition; each filter has an index, see turn-filter.ts).
   */
  async listAfter(
    conversationId: string,
    partitionMonth: string,
    after: number,
    limit: number,
    filter: TurnFilter = {},
  ): Promise<StoredTurn[]> {
    const parameters: unknown[] = [conversationId, partitionMonth, after, limit];
    const conditions = filterConditions(filter, (value) => {
      parameters.push(value);
      return `$${parameters.length}`;
    });
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM turns t
        WHERE t.conversation_id = $1 AND t.partition_month = $2 AND t.message_number > $3
          ${conditions.map((c) => `AND ${c}`).join(' ')}
        ORDER BY t.message_number LIMIT $4`,
      parameters,
    );
    return rows.map(toStored);
  }

  /** The `limit` turns before messageNumber `before`, descending. */
  async listBefore(
    conversationId: string,
    partitionMonth: string,
    before: number,
    limit: number,
  ): Promise<StoredTurn[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM turns t
        WHERE t.conversation_id = $1 AND t.partition_month = $2 AND t.message_number < $3
        ORDER BY t.message_number DESC LIMIT $4`,
      [conversationId, partitionMonth, before, limit],
    );
    return rows.map(toStored);
  }

  async spokenSince(
    conversationId: string,
    partitionMonth: string,
    since: Date,
    limit: number,
  ): Promise<StoredTurn[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${COLUMNS} FROM turns t
        WHERE t.conversation_id = $1 AND t.partition_month = $2 AND t.spoken_at >= $3
        ORDER BY t.spoken_at, t.message_number LIMIT $4`,
      [conversationId, partitionMonth, since, limit],
    );
    return rows.map(toStored);
  }

  /** Persisted messageNumbers as ranges: `[[1, 40], [42, 90]]`. */
  async numberRanges(conversationId: string, partitionMonth: string): Promise<[number, number][]> {
    const rows = await this.dataSource.query<{ first: number; last: number }[]>(
      `SELECT min(message_number) AS first, max(message_number) AS last FROM (
         SELECT message_number, message_number - row_number() OVER (ORDER BY message_number) AS grp
           FROM turns WHERE conversation_id = $1 AND partition_month = $2
       ) s GROUP BY grp ORDER BY first`,
      [conversationId, partitionMonth],
    );
    return rows.map((r) => [r.first, r.last]);
  }

  async stats(conversationId: string, partitionMonth: string): Promise<ConversationTurnStats> {
    const [row] = await this.dataSource.query<ConversationTurnStats[]>(
      `WITH t AS (SELECT * FROM turns WHERE conversation_id = $1 AND partition_month = $2)
       SELECT
         (SELECT count(*) FROM t)::int AS turns,
         coalesce((SELECT json_agg(s ORDER BY s.turns DESC, s.speaker) FROM
            (SELECT speaker, count(*)::int AS turns FROM t GROUP BY speaker) s), '[]') AS speakers,
         (SELECT avg(processing_time_ms)::float FROM t) AS "averageProcessingTimeMs",
         (SELECT avg(extract(epoch FROM persisted_at - received_at) * 1000)::float FROM t) AS "averageQueueTimeMs",
         json_build_object(
           'high', (SELECT count(*) FROM t WHERE confidence >= 0.85)::int,
           'medium', (SELECT count(*) FROM t WHERE confidence >= 0.6 AND confidence < 0.85)::int,
           'low', (SELECT count(*) FROM t WHERE confidence < 0.6)::int
         ) AS confidence,
         (SELECT count(*) FROM t WHERE cleaning_applied)::int AS "turnsCleaned",
         (SELECT count(*) FROM t WHERE transcription_error_detected)::int AS "errorsFiltered",
         (SELECT avg(websocket_latency_ms)::float FROM t) AS "averageLatencyMs",
         coalesce((SELECT json_agg(s ORDER BY s.turns DESC, s.value NULLS LAST) FROM
            (SELECT context_detected AS value, count(*)::int AS turns,
                    avg(processing_time_ms)::float AS "averageProcessingTimeMs",
                    count(*) FILTER (WHERE confidence >= 0.85)::int AS "highConfidenceTurns"
               FROM t GROUP BY context_detected) s), '[]') AS contexts,
         coalesce((SELECT json_agg(s ORDER BY s.turns DESC) FROM
            (SELECT business_domain AS value, count(*)::int AS turns FROM t GROUP BY business_domain) s), '[]') AS domains,
         coalesce((SELECT json_agg(s ORDER BY s.hour) FROM
            (SELECT to_char(date_trunc('hour', spoken_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"') AS hour,
                    count(*)::int AS turns FROM t GROUP BY 1) s), '[]') AS "turnsPerHour"`,
      [conversationId, partitionMonth],
    );
    return row!;
  }

  /** Every persisted turn in messageNumber order, a batch at a time. */
  async *inOrder(
    conversationId: string,
    partitionMonth: string,
    batchSize = 5000,
  ): AsyncGenerator<StoredTurn[]> {
    let after = 0;
    for (;;) {
      const batch = await this.listAfter(conversationId, partitionMonth, after, batchSize);
      if (batch.length === 0) return;
      yield batch;
      after = batch[batch.length - 1]!.messageNumber;
      if (batch.length < batchSize) return;
    }
  }
}
