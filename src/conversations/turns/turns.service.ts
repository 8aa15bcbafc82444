import { Injectable, Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { map, Observable } from 'rxjs';
import { Clock } from '../../core/clock/clock';
import { flattenValidationErrors } from '../../core/http/validation';
import { ValidationProblem } from '../../core/http/problem.exception';
import { SharedStreamReader } from '../../core/sse/shared-stream-reader';
import { isStreamId } from '../../core/sse/stream-ids';
import type { Actor } from '../../core/security/actor';
import { ConversationsErrorCode, ConversationsException } from '../conversations.exception';
import { ConversationsService } from '../conversations.service';
import {
  IngestResponse,
  MAX_MESSAGE_NUMBER,
  TurnBatchDto,
  TurnDto,
  TurnResponse,
} from '../dto/turn.dto';
import { isCertainlyValidBody } from '../dto/turn-fast-check';
import { FlushScheduler } from './flush-scheduler';
import { TurnBuffer } from './turn-buffer';
import { confidenceLevelOf, TurnRecord } from './turn-record';
import { StoredTurn, TurnsRepository } from './turns.repository';

const VALIDATION = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

export function toTurnResponse(turn: TurnRecord | StoredTurn): TurnResponse {
  const stored = 'persistedAt' in turn ? turn : undefined;
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
    receivedAt: turn.receivedAt,
    persistedAt: stored?.persistedAt ?? null,
    queueTimeMs: stored ? Date.parse(stored.persistedAt) - Date.parse(stored.receivedAt) : null,
  };
}

/** Persisted and buffered turns together, one per messageNumber (persisted wins), ascending. */
function merge(persisted: StoredTurn[], buffered: TurnRecord[]): (StoredTurn | TurnRecord)[] {
  const byNumber = new Map<number, StoredTurn | TurnRecord>();
  for (const turn of buffered) byNumber.set(turn.messageNumber, turn);
  for (const turn of persisted) byNumber.set(turn.messageNumber, turn);
  return [...byNumber.values()].sort((a, b) => a.messageNumber - b.messageNumber);
}

/**
 * The live turn paths. Writes go to Redis only (so ingestion keeps answering while
 * Postgres is away); reads merge Postgres with the not-yet-persisted buffer so a
 * client reads its own writes at once.
 */
@Injectable()
export class TurnsService {
  private readonly logger = new Logger(TurnsService.name);

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
    if (isCertainlyValidBody(body)) return batch ? (body).turns : [body];
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
      corrections: (dto.corrections ?? []).map((c) => ({
        original: c.original,
        corrected: c.corrected,
        confidence: c.confidence,
        reason: c.reason,
        position: { start: c.position.start, end: c.position.end },
      })),
      contextDetected: dto.contextDetected ?? null,
      businessDomain: dto.businessDomain ?? null,
      conversationFlow: dto.conversationFlow ?? null,
      aiModelUsed: dto.aiModelUsed ?? null,
      transcriptionErrorDetected: dto.transcriptionErrorDetected ?? false,
      processingTimeMs: dto.processingTimeMs ?? null,
      slidingWindowSize: dto.slidingWindowSize ?? null,
      contextTurnsUsed: dto.contextTurnsUsed ?? null,
      ingestedBy: actor.userId,
      receivedAt,
    }));
    const outcome = await this.buffer.ingest(conversationId, records);
    if (outcome === 'closed') throw new ConversationsException(ConversationsErrorCode.NotActive);
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

  async listAfter(conversationId: string, after: number, limit: number): Promise<TurnResponse[]> {
    const conversation = await this.conversations.get(conversationId);
    const [persisted, buffered] = await Promise.all([
      this.turns.listAfter(conversationId, conversation.partitionMonth, after, limit),
      this.buffer.pendingBetween(conversationId, after, Number.MAX_SAFE_INTEGER, limit),
    ]);
    return merge(persisted, buffered).slice(0, limit).map(toTurnResponse);
  }

  /** The `size` turns before `before` (or the latest), oldest first. */
  async window(conversationId: string, size: number, before?: number): Promise<TurnResponse[]> {
    const conversation = await this.conversations.get(conversationId);
    // Past the highest possible messageNumber, and still an int4 for Postgres.
    const end = before ?? MAX_MESSAGE_NUMBER + 1;
    const [persisted, buffered] = await Promise.all([
      this.turns.listBefore(conversationId, conversation.partitionMonth, end, size),
      this.buffer.pendingBefore(conversationId, end, size),
    ]);
    return merge(persisted, buffered).slice(-size).map(toTurnResponse);
  }

  /** Turns spoken in the last `minutes`, from the live window when the conversation is live. */
  async recent(conversationId: string, minutes: number): Promise<TurnResponse[]> {
    const since = this.clock.nowMs() - minutes * 60_000;
    const live = await this.buffer.liveSince(conversationId, since);
    if (live) return live.map(toTurnResponse);
    const conversation = await this.conversations.get(conversationId);
    const persisted = await this.turns.spokenSince(
      conversationId,
      conversation.partitionMonth,
      new Date(since),
      1000,
    );
    return persisted.map(toTurnResponse);
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
   * New turns as Server-Sent Events after `cursor`, each with its event-stream id so a
   * client can resume with Last-Event-ID. All subscribers of the process share one Redis
   * connection (SharedStreamReader).
   */
  stream(
    conversationId: string,
    cursor: string,
  ): Observable<{ id: string; type: string; data: TurnResponse }> {
    return this.reader.follow(this.buffer.eventsKey(conversationId), cursor).pipe(
      map((entry) => ({
        id: entry.id,
        type: 'turn',
        data: toTurnResponse(JSON.parse(entry.fields[1]!) as TurnRecord),
      })),
    );
  }
}
