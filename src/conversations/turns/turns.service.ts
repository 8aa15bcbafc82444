import { Injectable, Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { map, Observable } from 'rxjs';
import { Clock } from '../../core/clock/clock';
import { createValidationPipe, flattenValidationErrors } from '../../core/http/validation';
import {
  NotFoundProblem,
  PreconditionFailedProblem,
  ValidationProblem,
} from '../../core/http/problem.exception';
import { SharedStreamReader } from '../../core/sse/shared-stream-reader';
import { isStreamId } from '../../core/sse/stream-ids';
import type { Actor } from '../../core/security/actor';
import { ConversationsErrorCode, ConversationsException } from '../conversations.exception';
import { ConversationsService } from '../conversations.service';
import {
  CorrectionDto,
  IngestResponse,
  MAX_MESSAGE_NUMBER,
  ReviseTurnDto,
  TurnBatchDto,
  TurnDto,
  TurnResponse,
} from '../dto/turn.dto';
import type { TurnCorrection } from '../entities/turn.entity';
import { isCertainlyValidRevision } from '../dto/revise-fast-check';
import { isCertainlyValidBody } from '../dto/turn-fast-check';
import { FlushScheduler } from './flush-scheduler';
import { RevisionMemory } from './revision-memory';
import { RevisionBase, RevisionBaseKind, TurnBuffer } from './turn-buffer';
import { isFiltered, matchesFilter, TurnFilter } from './turn-filter';
import {
  CLEANING_FIELDS,
  CleaningChanges,
  cleaningStateOf,
  confidenceLevelOf,
  RevisedTurn,
  RevisionHistoryEntry,
  RevisionRecord,
  revisionOf,
  TurnRecord,
} from './turn-record';
import { StoredTurn, TurnsRepository } from './turns.repository';

/** One Server-Sent Event of GET /conversations/:id/stream. */
export interface ConversationEvent {
  id: string;
  type: 'turn' | 'turn.revised' | 'conversation.updated' | 'conversation.ended';
  data: TurnResponse | object;
}

/** A filtered list scans buffered turns this many at a time, at most this many times. */
const BUFFER_SCAN_CHUNK = 500;
const BUFFER_SCAN_CHUNKS = 20;

/**
 * Turns this process revised, kept to be the base of their next PATCH (one Redis round
 * trip, no read): P11 revises each of thousands of turns every few seconds.
 */
const REVISION_MEMORY = { maxEntries: 10_000, maxAgeMs: 60_000 };

/**
 * Turns this process accepted last, the base of their first revision: a cleaner PATCHes
 * each turn a moment after posting it (seed 002), by then often persisted, which would
 * cost a read. At 5,000 turns/s this covers the last two seconds.
 */
const INGEST_MEMORY = { maxEntries: 10_000, maxAgeMs: 30_000 };

/** Concurrent PATCHes of one turn re-read and retry; this many rounds is ample. */
const MAX_REVISION_ATTEMPTS = 25;

const VALIDATION = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

/** The global ValidationPipe, for PATCH bodies the fast check is not sure of. */
const REVISE_PIPE = createValidationPipe();

export function toTurnResponse(turn: TurnRecord | RevisedTurn | StoredTurn): TurnResponse {
  const stored = 'persistedAt' in turn ? turn : undefined;
  const revised = 'revision' in turn ? turn : undefined;
  return {
    id: stored?.id ?? null,
    conversationId: turn.conversationId,
    messageNumber: turn.messageNumber,
    speaker: turn.speaker,
    rawText: turn.rawText,
    cleanedText: turn.cleanedText,
    spokenAt: turn.spokenAt,
    confidence: turn.confidence,
    confidenceLevel: confidenceLevelOf(turn.confidence),
    cleaningApplied: turn.cleaningApplied,
    cleaningLevel: turn.cleaningLevel,
    corrections: turn.corrections,
    contextDetected: turn.contextDetected,
    businessDomain: turn.businessDomain,
    conversationFlow: turn.conversationFlow,
    aiModelUsed: turn.aiModelUsed,
    transcriptionErrorDetected: turn.transcriptionErrorDetected,
    processingTimeMs: turn.processingTimeMs,
    slidingWindowSize: turn.slidingWindowSize,
    contextTurnsUsed: turn.contextTurnsUsed,
    engineRequestId: turn.engineRequestId ?? null,
    websocketLatencyMs: turn.websocketLatencyMs ?? null,
    revision: revised?.revision ?? 1,
    updatedAt: revised?.updatedAt ?? turn.receivedAt,
    receivedAt: turn.receivedAt,
    persistedAt: stored?.persistedAt ?? null,
    queueTimeMs: stored ? Date.parse(stored.persistedAt) - Date.parse(stored.receivedAt) : null,
  };
}

type AnyTurn = TurnRecord | RevisedTurn | StoredTurn;

/** Persisted and buffered turns together, one per messageNumber (persisted wins), ascending. */
function merge(persisted: StoredTurn[], buffered: TurnRecord[]): AnyTurn[] {
  const byNumber = new Map<number, AnyTurn>();
  for (const turn of buffered) byNumber.set(turn.messageNumber, turn);
  for (const turn of persisted) byNumber.set(turn.messageNumber, turn);
  return [...byNumber.values()].sort((a, b) => a.messageNumber - b.messageNumber);
}

/** `turn` as its newer buffered revision made it, keeping the row's id once persisted. */
function withRevision(turn: AnyTurn, revised: RevisedTurn | undefined): AnyTurn {
  if (!revised || revised.revision <= revisionOf(turn)) return turn;
  return 'persistedAt' in turn
    ? { ...revised, id: turn.id, persistedAt: turn.persistedAt }
    : revised;
}

/** A turn a revision builds on, and where it came from (what the revise script checks). */
interface RevisionBaseOf {
  turn: AnyTurn;
  kind: RevisionBaseKind;
}

/** A RevisedTurn without the row's own fields, as it is kept in Redis. */
function asRevised(turn: AnyTurn): RevisedTurn {
  const copy: Partial<StoredTurn> = { ...turn };
  delete copy.id;
  delete copy.persistedAt;
  return {
    ...(copy as TurnRecord),
    revision: revisionOf(turn),
    updatedAt: 'revision' in turn ? turn.updatedAt : null,
  };
}

/** The fields a PATCH sets (left-out ones are absent; null clears a nullable field). */
function changesOf(dto: ReviseTurnDto): CleaningChanges {
  const changes: Record<string, unknown> = {};
  for (const field of CLEANING_FIELDS) {
    const value = dto[field];
    if (value === undefined) continue;
    changes[field] =
      field === 'corrections' && Array.isArray(value) ? value.map(correctionOf) : value;
  }
  return changes;
}

/** A plain correction object (no DTO instance, only known keys, stable key order). */
function correctionOf(c: CorrectionDto): TurnCorrection {
  return {
    original: c.original,
    corrected: c.corrected,
    confidence: c.confidence,
    reason: c.reason,
    position: { start: c.position.start, end: c.position.end },
    ...(c.contextRelevance !== undefined ? { contextRelevance: c.contextRelevance } : {}),
  };
}

/**
 * The live turn paths. Writes go to Redis only (so ingestion keeps answering while
 * Postgres is away); reads merge Postgres with the not-yet-persisted buffer so a
 * client reads its own writes at once.
 */
@Injectable()
export class TurnsService {
  private readonly logger = new Logger(TurnsService.name);
  // Read at each use, so the clock is the one the constructor is given.
  private readonly remembered = new RevisionMemory<RevisedTurn | StoredTurn>(REVISION_MEMORY, () =>
    this.clock.nowMs(),
  );
  private readonly ingested = new RevisionMemory<TurnRecord>(INGEST_MEMORY, () =>
    this.clock.nowMs(),
  );

  constructor(
    private readonly conversations: ConversationsService,
    private readonly turns: TurnsRepository,
    private readonly buffer: TurnBuffer,
    private readonly scheduler: FlushScheduler,
    private readonly reader: SharedStreamReader,
    private readonly clock: Clock,
  ) {}

  /** Accepts one turn or `{ turns: [...] }`; validation errors name `turns[i].field`. */
  async parse(body: unknown): Promise<TurnDto[]> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ValidationProblem([
        { field: 'body', message: 'body must be a turn or { "turns": [...] }' },
      ]);
    }
    const batch = 'turns' in body;
    if (isCertainlyValidBody(body)) return batch ? body.turns : [body];
    const dto = batch ? plainToInstance(TurnBatchDto, body) : plainToInstance(TurnDto, body);
    const errors = await validate(dto, VALIDATION);
    if (errors.length > 0) throw new ValidationProblem(flattenValidationErrors(errors));
    return batch ? (dto as TurnBatchDto).turns : [dto as TurnDto];
  }

  async ingest(actor: Actor, conversationId: string, body: unknown): Promise<IngestResponse> {
    const dtos = await this.parse(body);
    if ((await this.conversations.statusForIngest(conversationId)) !== 'active')
      throw new ConversationsException(ConversationsErrorCode.NotActive);
    const receivedAt = this.clock.now().toISOString();
    const records: TurnRecord[] = dtos.map((dto) => ({
      conversationId,
      messageNumber: dto.messageNumber,
      speaker: dto.speaker,
      rawText: dto.rawText,
      cleanedText: dto.cleanedText ?? null,
      spokenAt: new Date(dto.spokenAt).toISOString(),
      confidence: dto.confidence,
      cleaningApplied: dto.cleaningApplied ?? false,
      cleaningLevel: dto.cleaningLevel ?? 'none',
      corrections: (dto.corrections ?? []).map((c) => correctionOf(c)),
      contextDetected: dto.contextDetected ?? null,
      businessDomain: dto.businessDomain ?? null,
      conversationFlow: dto.conversationFlow ?? null,
      aiModelUsed: dto.aiModelUsed ?? null,
      transcriptionErrorDetected: dto.transcriptionErrorDetected ?? false,
      processingTimeMs: dto.processingTimeMs ?? null,
      slidingWindowSize: dto.slidingWindowSize ?? null,
      contextTurnsUsed: dto.contextTurnsUsed ?? null,
      engineRequestId: dto.engineRequestId ?? null,
      websocketLatencyMs: dto.websocketLatencyMs ?? null,
      ingestedBy: actor.userId,
      receivedAt,
    }));
    const outcome = await this.buffer.ingest(conversationId, records);
    if (outcome === 'closed') throw new ConversationsException(ConversationsErrorCode.NotActive);
    // Only when every turn was new is each record the turn as accepted (revision 1).
    if (outcome.duplicates === 0) for (const record of records) this.ingested.remember(record);
    if (outcome.accepted > 0) {
      // The turns are safe in Redis; a missed flush request is covered by the sweep.
      this.scheduler
        .requestFlush()
        .catch((error: unknown) =>
          this.logger.warn({ err: String(error) }, 'flush request failed'),
        );
    }
    return outcome;
  }

  /**
   * A page of the turns after `after` that match `filter`, in messageNumber order, from
   * three sources: rows (filtered in SQL), buffered turns (filtered here), and turns a
   * not-yet-persisted revision changed (they may match now, or no longer). Each turn is
   * taken as its latest revision made it and filtered again. A source read up to
   * `limit + 1` matches may hold more beyond what it returned, so the page stops at the
   * lowest such point (`bound`): no turn past it is skipped, and the cursor resumes there.
   */
  async list(
    conversationId: string,
    after: number,
    limit: number,
    filter: TurnFilter = {},
  ): Promise<{ data: TurnResponse[]; nextCursor: string | null }> {
    const partitionMonth = await this.conversations.partitionMonth(conversationId);
    const want = limit + 1;
    const filtered = isFiltered(filter);
    const [persisted, buffered, revised] = await Promise.all([
      this.turns.listAfter(conversationId, partitionMonth, after, want, filter),
      this.bufferedMatching(conversationId, after, want, filter),
      filtered ? this.buffer.revisedAfter(conversationId, after) : Promise.resolve([]),
    ]);
    let bound = buffered.bound;
    if (persisted.length === want) bound = Math.min(bound, persisted[want - 1]!.messageNumber);
    const candidates = merge(persisted, buffered.turns);
    const known = new Set(candidates.map((t) => t.messageNumber));
    for (const turn of revised) if (!known.has(turn.messageNumber)) candidates.push(turn);
    candidates.sort((a, b) => a.messageNumber - b.messageNumber);
    const reachable = (await this.latest(conversationId, candidates)).filter(
      (t) => t.messageNumber <= bound && (!filtered || matchesFilter(t, filter)),
    );
    const page = reachable.slice(0, limit);
    const last = page[page.length - 1];
    let nextCursor: string | null = null;
    if (reachable.length > limit && last) nextCursor = String(last.messageNumber);
    else if (Number.isFinite(bound)) nextCursor = String(bound);
    return { data: page.map(toTurnResponse), nextCursor };
  }

  /**
   * Buffered turns after `after` matching `filter`, up to `want`, scanning the pending
   * set in chunks; `bound` is where the scan stopped short (Infinity when it saw all).
   */
  private async bufferedMatching(
    conversationId: string,
    after: number,
    want: number,
    filter: TurnFilter,
  ): Promise<{ turns: TurnRecord[]; bound: number }> {
    if (!isFiltered(filter)) {
      const turns = await this.buffer.pendingBetween(
        conversationId,
        after,
        Number.MAX_SAFE_INTEGER,
        want,
      );
      const bound = turns.length === want ? turns[want - 1]!.messageNumber : Infinity;
      return { turns, bound };
    }
    const matches: TurnRecord[] = [];
    let cursor = after;
    for (let chunk = 0; chunk < BUFFER_SCAN_CHUNKS; chunk++) {
      const turns = await this.buffer.pendingBetween(
        conversationId,
        cursor,
        Number.MAX_SAFE_INTEGER,
        BUFFER_SCAN_CHUNK,
      );
      for (const turn of turns) {
        if (!matchesFilter(turn, filter)) continue;
        matches.push(turn);
        if (matches.length === want) return { turns: matches, bound: turn.messageNumber };
      }
      if (turns.length < BUFFER_SCAN_CHUNK) return { turns: matches, bound: Infinity };
      cursor = turns[turns.length - 1]!.messageNumber;
    }
    return { turns: matches, bound: cursor };
  }

  /** Each turn as its latest revision made it, buffered revisions included (one HMGET). */
  private async latest(conversationId: string, turns: AnyTurn[]): Promise<AnyTurn[]> {
    const revised = await this.buffer.revisedTurns(
      conversationId,
      turns.map((t) => t.messageNumber),
    );
    if (revised.size === 0) return turns;
    return turns.map((t) => withRevision(t, revised.get(t.messageNumber)));
  }

  /**
   * One turn as it now is, with what the buffer knows of it. A turn only buffered is
   * answered from Redis; otherwise its row is read, overlaid by a buffered revision.
   */
  private async resolve(
    conversationId: string,
    messageNumber: number,
  ): Promise<{ turn: AnyTurn; base: RevisionBase } | null> {
    const base = await this.buffer.revisionBase(conversationId, messageNumber);
    const buffered = base.pendingRaw ? (JSON.parse(base.pendingRaw) as TurnRecord) : null;
    if (base.revision === null && buffered) return { turn: buffered, base };
    const stored = await this.storedTurn(conversationId, messageNumber);
    const turn = stored ?? base.latest ?? buffered;
    return turn ? { turn: withRevision(turn, base.latest ?? undefined), base } : null;
  }

  async findOne(conversationId: string, messageNumber: number): Promise<TurnResponse> {
    const found = await this.resolve(conversationId, messageNumber);
    if (!found) throw new NotFoundProblem('turn');
    return toTurnResponse(found.turn);
  }

  /**
   * Every revision of a turn, oldest first: those persisted, then those still buffered;
   * revision 1 is the turn as posted (stored when revision 2 is, else the turn itself).
   */
  async revisions(conversationId: string, messageNumber: number): Promise<RevisionHistoryEntry[]> {
    const found = await this.resolve(conversationId, messageNumber);
    if (!found) throw new NotFoundProblem('turn');
    const [persisted, buffered] = await Promise.all([
      this.turns.revisions(conversationId, messageNumber),
      this.buffer.pendingRevisions(conversationId, messageNumber),
    ]);
    const byRevision = new Map<number, RevisionHistoryEntry>();
    const keep = (entry: RevisionHistoryEntry) => {
      if (!byRevision.has(entry.revision)) byRevision.set(entry.revision, entry);
    };
    persisted.forEach(keep);
    for (const record of buffered) {
      if (record.original) keep(record.original);
      keep({
        revision: record.revision,
        changedBy: record.changedBy,
        changedAt: record.changedAt,
        changes: record.changes,
      });
    }
    if (!byRevision.has(1)) {
      const turn = found.turn;
      keep({
        revision: 1,
        changedBy: turn.ingestedBy,
        changedAt: turn.receivedAt,
        changes: cleaningStateOf(turn),
      });
    }
    return [...byRevision.values()].sort((a, b) => a.revision - b.revision);
  }

  /**
   * The PATCH body as ReviseTurnDto: well-formed bodies pass a fast check, any other goes
   * through the very ValidationPipe every other body does (same errors, 400 or 413).
   */
  private async parseRevision(body: unknown): Promise<ReviseTurnDto> {
    if (isCertainlyValidRevision(body)) return body;
    return (await REVISE_PIPE.transform(body, {
      type: 'body',
      metatype: ReviseTurnDto,
      data: undefined,
    })) as ReviseTurnDto;
  }

  /**
   * A revision (SPEC section 10): the cleaning fields in `dto` change, the turn's
   * revision moves up by one. Redis-first like ingestion: the revision is a
   * compare-and-set on the turn's counter plus an entry in the durable buffer (see
   * TurnBuffer.revise and the README); concurrent PATCHes re-read and retry, so each
   * gets its own number, unless they sent If-Match, which then fails with 412.
   */
  async revise(
    actor: Actor,
    conversationId: string,
    messageNumber: number,
    body: unknown,
    ifMatch?: number,
  ): Promise<TurnResponse> {
    const changes = changesOf(await this.parseRevision(body));
    if (Object.keys(changes).length === 0) {
      throw new ValidationProblem([
        { field: 'body', message: `send at least one of ${CLEANING_FIELDS.join(', ')}` },
      ]);
    }
    if ((await this.conversations.statusForIngest(conversationId)) !== 'active')
      throw new ConversationsException(ConversationsErrorCode.NotActive);
    let base = this.rememberedBase(conversationId, messageNumber);
    // The memory may be behind another process's revision: If-Match decides on a read.
    if (base && ifMatch !== undefined && ifMatch !== revisionOf(base.turn)) base = undefined;
    for (let attempt = 0; attempt < MAX_REVISION_ATTEMPTS; attempt++) {
      const { turn, kind } = base ?? (await this.readBase(conversationId, messageNumber));
      if (ifMatch !== undefined && ifMatch !== revisionOf(turn))
        throw new PreconditionFailedProblem();
      const { next, record } = this.nextRevision(turn, changes, actor.userId);
      const outcome = await this.buffer.revise(record, next, kind);
      if (outcome === 'closed') throw new ConversationsException(ConversationsErrorCode.NotActive);
      if (outcome === 'unbuffered') {
        // Persisted since this process ingested it (the row is the base), or dead-lettered.
        this.ingested.forget(conversationId, messageNumber);
        const row = await this.storedTurn(conversationId, messageNumber);
        if (!row) throw new NotFoundProblem('turn');
        base = { turn: row, kind: 'read' };
        attempt--;
        continue;
      }
      if (outcome === 'conflict') {
        base = undefined;
        if (kind !== 'read') {
          // Another revision got in (or the counter is gone): read, then decide as usual.
          this.remembered.forget(conversationId, messageNumber);
          this.ingested.forget(conversationId, messageNumber);
          attempt--;
          continue;
        }
        if (ifMatch !== undefined) throw new PreconditionFailedProblem();
        continue;
      }
      this.scheduler
        .requestFlush()
        .catch((error: unknown) =>
          this.logger.warn({ err: String(error) }, 'flush request failed'),
        );
      const revised = await this.withRow(turn, next, outcome.buffered);
      this.ingested.forget(conversationId, messageNumber);
      this.remembered.remember(revised);
      return toTurnResponse(revised);
    }
    throw new ConversationsException(ConversationsErrorCode.RevisionContention);
  }

  /** The turn as this process last wrote it (its own revision, or as ingested), if known. */
  private rememberedBase(
    conversationId: string,
    messageNumber: number,
  ): RevisionBaseOf | undefined {
    const revised = this.remembered.get(conversationId, messageNumber);
    if (revised) return { turn: revised, kind: 'revision' };
    const ingested = this.ingested.get(conversationId, messageNumber);
    return ingested ? { turn: ingested, kind: 'ingested' } : undefined;
  }

  /** The turn as it now is, read (404 when there is none). */
  private async readBase(conversationId: string, messageNumber: number): Promise<RevisionBaseOf> {
    const found = await this.resolve(conversationId, messageNumber);
    if (!found) throw new NotFoundProblem('turn');
    return { turn: found.turn, kind: 'read' };
  }

  private async storedTurn(
    conversationId: string,
    messageNumber: number,
  ): Promise<StoredTurn | undefined> {
    const partitionMonth = await this.conversations.partitionMonth(conversationId);
    return this.turns.findOne(conversationId, partitionMonth, messageNumber);
  }

  /** `turn` as the revision makes it, and the revision as the buffer carries it. */
  private nextRevision(
    turn: AnyTurn,
    changes: CleaningChanges,
    changedBy: string,
  ): { next: RevisedTurn; record: RevisionRecord } {
    const current = revisionOf(turn);
    const changedAt = this.clock.now().toISOString();
    const next: RevisedTurn = {
      ...asRevised(turn),
      ...changes,
      revision: current + 1,
      updatedAt: changedAt,
    };
    const record: RevisionRecord = {
      conversationId: turn.conversationId,
      messageNumber: turn.messageNumber,
      revision: next.revision,
      changedBy,
      changedAt,
      changes,
      state: cleaningStateOf(next),
      ...(current === 1
        ? {
            original: {
              revision: 1,
              changedBy: turn.ingestedBy,
              changedAt: turn.receivedAt,
              changes: cleaningStateOf(turn),
            },
          }
        : {}),
    };
    return { next, record };
  }

  /**
   * `next` with the row's own fields once its turn is persisted: from the base when it
   * was read from Postgres, else read now if the revise script found the turn no longer
   * buffered (persisted since this process ingested or read it).
   */
  private async withRow(
    base: AnyTurn,
    next: RevisedTurn,
    buffered: boolean,
  ): Promise<RevisedTurn | StoredTurn> {
    if ('persistedAt' in base) return { ...next, id: base.id, persistedAt: base.persistedAt };
    if (buffered) return next;
    const row = await this.storedTurn(next.conversationId, next.messageNumber);
    return row ? { ...next, id: row.id, persistedAt: row.persistedAt } : next;
  }

  /** The `size` turns before `before` (or the latest), oldest first. */
  async window(conversationId: string, size: number, before?: number): Promise<TurnResponse[]> {
    const partitionMonth = await this.conversations.partitionMonth(conversationId);
    // Past the highest possible messageNumber, and still an int4 for Postgres.
    const end = before ?? MAX_MESSAGE_NUMBER + 1;
    const [persisted, buffered] = await Promise.all([
      this.turns.listBefore(conversationId, partitionMonth, end, size),
      this.buffer.pendingBefore(conversationId, end, size),
    ]);
    return (await this.latest(conversationId, merge(persisted, buffered).slice(-size))).map(
      toTurnResponse,
    );
  }

  /** Turns spoken in the last `minutes`, from the live window when the conversation is live. */
  async recent(conversationId: string, minutes: number): Promise<TurnResponse[]> {
    const since = this.clock.nowMs() - minutes * 60_000;
    const live = await this.buffer.liveSince(conversationId, since);
    if (live) return (await this.latest(conversationId, live)).map(toTurnResponse);
    const partitionMonth = await this.conversations.partitionMonth(conversationId);
    const persisted = await this.turns.spokenSince(
      conversationId,
      partitionMonth,
      new Date(since),
      1000,
    );
    return (await this.latest(conversationId, persisted)).map(toTurnResponse);
  }

  /**
   * Where a new subscriber starts: after its Last-Event-ID when it sends a valid one,
   * else after the newest event, so it gets what arrives from now on without a gap.
   */
  async streamStart(conversationId: string, lastEventId?: string): Promise<string> {
    return isStreamId(lastEventId)
      ? lastEventId
      : this.reader.latestId(this.buffer.eventsKey(conversationId));
  }

  /**
   * The conversation's events after `cursor` as named Server-Sent Events, each with its
   * event-stream id so a client resumes any of them with Last-Event-ID: `turn` (an
   * arrival), `turn.revised` (the turn as a revision made it), `conversation.updated`
   * (counters after a batch was persisted, at most one a second), `conversation.ended`
   * (`{ sealHash }`). All subscribers of the process share one Redis connection
   * (SharedStreamReader).
   */
  stream(conversationId: string, cursor: string): Observable<ConversationEvent> {
    return this.reader.follow(this.buffer.eventsKey(conversationId), cursor).pipe(
      map((entry): ConversationEvent => {
        const [field, value] = entry.fields as [string, string];
        switch (field) {
          case 'revised':
            return {
              id: entry.id,
              type: 'turn.revised',
              data: toTurnResponse(JSON.parse(value) as RevisedTurn),
            };
          case 'updated':
            return {
              id: entry.id,
              type: 'conversation.updated',
              data: JSON.parse(value) as object,
            };
          case 'ended':
            return { id: entry.id, type: 'conversation.ended', data: JSON.parse(value) as object };
          default:
            return {
              id: entry.id,
              type: 'turn',
              data: toTurnResponse(JSON.parse(value) as TurnRecord),
            };
        }
      }),
    );
  }
}
