import { Inject, Injectable, Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import { isRefusedData } from '../../core/database/postgres-errors';
import {
  PERSISTENCE_METRICS,
  PersistenceMetrics,
} from '../../core/metrics/persistence-metrics.port';
import { FlushScheduler } from './flush-scheduler';
import { BufferedEntry, BufferedTurnsEntry, entrySize, fnv1a, TurnBuffer } from './turn-buffer';
import { RevisionRecord } from './turn-record';
import { ConversationCounters, TurnsRepository } from './turns.repository';

const reasonOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

export interface DrainResult {
  persisted: number;
  duplicates: number;
  batches: number;
}

/**
 * Moves turns from the Redis buffer into Postgres. Entries are acknowledged only
 * after the batch's statement committed; an entry whose worker died stays pending
 * and is reclaimed by another consumer; a failed batch stays pending with this
 * consumer and is retried first. The insert skips rows that already exist, so a
 * batch persisted twice (crash between commit and acknowledge) is harmless.
 *
 * What one read brings is split into TURN_PERSIST_LANES lanes by conversation, and the
 * lanes are stored at once, each on its own connection: one statement at a time left a
 * core idle while Postgres stored a batch. A conversation always goes to the same lane,
 * so its entries are stored in order as before, and two statements of one worker never
 * lock the same conversation row (no deadlock between lanes: the only row they share is
 * the ingesting user's monthly usage, locked last).
 */
@Injectable()
export class TurnPersistenceService {
  private readonly logger = new Logger(TurnPersistenceService.name);
  /** One consumer per process; jobs in a process run one at a time (concurrency 1). */
  readonly consumer = `${hostname()}-${process.pid}`;
  private readonly batchSize: number;
  private readonly lanes: number;
  private readonly reclaimIdleMs: number;

  constructor(
    private readonly buffer: TurnBuffer,
    private readonly turns: TurnsRepository,
    private readonly scheduler: FlushScheduler,
    config: AppConfig,
    private readonly clock: Clock,
    @Inject(PERSISTENCE_METRICS) private readonly metrics: PersistenceMetrics,
  ) {
    this.batchSize = config.get('TURN_BATCH_SIZE');
    this.lanes = config.get('TURN_PERSIST_LANES');
    this.reclaimIdleMs = config.get('TURN_RECLAIM_IDLE_MS');
  }

  /**
   * Drains until the buffer is empty or `budgetMs` is spent (then asks for another flush).
   * Entries this consumer was given earlier and never acknowledged (a crash, a failed
   * batch) go first; after that the next batch is read from Redis while Postgres stores
   * the current one. Entries read but not stored stay pending for this consumer and are
   * the first batch of the next drain.
   */
  async drain(budgetMs = 2000, onBatch?: (persisted: number) => void): Promise<DrainResult> {
    const started = this.clock.nowMs();
    const result: DrainResult = { persisted: 0, duplicates: 0, batches: 0 };
    const readSize = this.batchSize * this.lanes;
    await this.buffer.reclaim(this.consumer, this.reclaimIdleMs, readSize);
    let entries = await this.buffer.readOwnPending(this.consumer, readSize);
    let recovering = entries.length > 0;
    if (!recovering) entries = await this.buffer.readNew(this.consumer, readSize);
    while (entries.length > 0) {
      const next = recovering ? undefined : this.buffer.readNew(this.consumer, readSize);
      let stored: { inserted: number; batches: number };
      try {
        stored = await this.persistInLanes(entries);
      } catch (error) {
        await next?.catch(() => undefined);
        throw error;
      }
      result.persisted += stored.inserted;
      result.duplicates += entries.reduce((sum, e) => sum + entrySize(e), 0) - stored.inserted;
      result.batches += stored.batches;
      onBatch?.(result.persisted);
      if (this.clock.nowMs() - started > budgetMs) {
        await next?.catch(() => undefined);
        await this.scheduler.flushNow();
        return result;
      }
      if (next) {
        entries = await next;
      } else {
        entries = await this.buffer.readOwnPending(this.consumer, readSize);
        recovering = entries.length > 0;
        if (!recovering) entries = await this.buffer.readNew(this.consumer, readSize);
      }
    }
    return result;
  }

  /**
   * The entries of one read, split into lanes by conversation; the lanes are stored at
   * once, each lane batch after batch (at most about TURN_BATCH_SIZE turns a statement).
   * Every lane is waited for before a failure is rethrown, so a retry never overlaps a
   * lane still running; what the other lanes committed is acknowledged and stays so.
   */
  private async persistInLanes(
    entries: BufferedEntry[],
  ): Promise<{ inserted: number; batches: number }> {
    const lanes = new Map<number, BufferedEntry[]>();
    for (const entry of entries) {
      const lane = this.lanes === 1 ? 0 : fnv1a(entry.conversationId) % this.lanes;
      const ofLane = lanes.get(lane);
      if (ofLane) ofLane.push(entry);
      else lanes.set(lane, [entry]);
    }
    const outcomes = await Promise.allSettled(
      [...lanes.values()].map((ofLane) => this.persistLane(ofLane)),
    );
    const stored = { inserted: 0, batches: 0 };
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw outcome.reason;
      stored.inserted += outcome.value.inserted;
      stored.batches += outcome.value.batches;
    }
    return stored;
  }

  private async persistLane(
    entries: BufferedEntry[],
  ): Promise<{ inserted: number; batches: number }> {
    const stored = { inserted: 0, batches: 0 };
    for (let start = 0; start < entries.length;) {
      let end = start;
      for (let turns = 0; end < entries.length && turns < this.batchSize; end++)
        turns += entrySize(entries[end]!);
      stored.inserted += await this.persist(entries.slice(start, end));
      stored.batches += 1;
      start = end;
    }
    return stored;
  }

  /**
   * Stores a batch, then acknowledges it. Any failure that may pass later (outage,
   * deadlock, timeout) is rethrown: the job retries and the entries wait in Redis. Only
   * when the database refuses the data itself is the batch split until the refused
   * entries are isolated, and a refused entry holding several turns until its refused
   * turns are (persistTurnByTurn); those move to the dead-letter stream, so one bad turn
   * never blocks everybody's turns behind it.
   */
  private async persist(entries: BufferedEntry[]): Promise<number> {
    let inserted: number;
    let counters: ConversationCounters[];
    try {
      ({ inserted, counters } = await this.store(entries));
    } catch (error) {
      if (!isRefusedData(error)) throw error;
      if (entries.length === 1) {
        const entry = entries[0]!;
        if (entry.kind === 'turns') return this.persistTurnByTurn(entry);
        const reason = reasonOf(error);
        this.logger.error(
          { streamId: entry.streamId, reason },
          'turn refused by the database; dead-lettered',
        );
        await this.buffer.deadLetter(entry, reason);
        return 0;
      }
      const middle = Math.ceil(entries.length / 2);
      return (
        (await this.persist(entries.slice(0, middle))) + (await this.persist(entries.slice(middle)))
      );
    }
    await this.buffer.acknowledge(entries);
    this.stored(inserted, counters);
    const turnEntries = entries
      .filter((e) => e.kind !== 'revision')
      .reduce((sum, e) => sum + entrySize(e), 0);
    if (inserted < turnEntries) {
      this.logger.debug({ entries: turnEntries, inserted }, 'skipped turns already persisted');
    }
    // A turn inserted by its revision's entry counts as persisted there and as a
    // duplicate when its own entry follows; never report fewer than none.
    return Math.min(inserted, turnEntries);
  }

  /**
   * The turns of one refused entry, split in halves until each refused turn is alone:
   * the others are stored, the refused ones dead-lettered, then the entry acknowledged
   * (TurnBuffer.deadLetterTurns, one MULTI). A crash in between leaves the entry pending:
   * its next persister skips the stored turns (ON CONFLICT) and refuses the same ones.
   */
  private async persistTurnByTurn(entry: BufferedTurnsEntry): Promise<number> {
    const turns = (JSON.parse(entry.raw) as unknown[]).map((turn) => JSON.stringify(turn));
    const refused: { raw: string; reason: string }[] = [];
    const counters = new Map<string, ConversationCounters>();
    const storeOrIsolate = async (part: string[]): Promise<number> => {
      try {
        const stored = await this.turns.persistJson(part, this.clock.now());
        for (const c of stored.counters) counters.set(c.conversationId, c);
        return stored.inserted;
      } catch (error) {
        if (!isRefusedData(error)) throw error;
        if (part.length === 1) {
          refused.push({ raw: part[0]!, reason: reasonOf(error) });
          return 0;
        }
        const middle = Math.ceil(part.length / 2);
        return (
          (await storeOrIsolate(part.slice(0, middle))) + (await storeOrIsolate(part.slice(middle)))
        );
      }
    };
    const inserted = await storeOrIsolate(turns);
    for (const { reason } of refused)
      this.logger.error(
        { streamId: entry.streamId, reason },
        'turn refused by the database; dead-lettered',
      );
    await this.buffer.deadLetterTurns(entry, refused);
    this.stored(inserted, [...counters.values()]);
    return inserted;
  }

  /** Once stored and acknowledged: metrics, and the new counters for live subscribers. */
  private stored(inserted: number, counters: ConversationCounters[]): void {
    this.metrics.turnsPersisted(inserted);
    // Live subscribers learn the new counters (SSE `conversation.updated`, at most one
    // per second per conversation). Best effort: the batch is stored and acknowledged.
    this.buffer
      .publishUpdated(counters)
      .catch((error: unknown) =>
        this.logger.warn({ err: String(error) }, 'conversation.updated not published'),
      );
  }

  /**
   * Turns first, then revisions, each one idempotent statement. A revision's entry
   * carries its turn when the turn was still buffered (see TurnBuffer.revise), and that
   * turn is inserted here before the revision is applied, so a revision never meets a
   * missing row, whichever worker holds the turn's own entry.
   */
  private async store(
    entries: BufferedEntry[],
  ): Promise<{ inserted: number; counters: ConversationCounters[] }> {
    // A turn twice in the batch (its own entry and a revision's) is inserted once: the
    // statement skips what it already inserted.
    const turns: string[] = [];
    const revisions: RevisionRecord[] = [];
    for (const entry of entries) {
      if (entry.kind === 'turn') turns.push(entry.raw);
      // The array's elements, as they are: persistJson joins its strings with commas.
      else if (entry.kind === 'turns') turns.push(entry.raw.slice(1, -1));
      else {
        revisions.push(entry.revision);
        if (entry.turn) turns.push(JSON.stringify(entry.turn));
      }
    }
    const { inserted, counters } = await this.turns.persistJson(turns, this.clock.now());
    await this.turns.appendRevisions(revisions);
    return { inserted, counters };
  }
}
