import { BullModule } from '@nestjs/bullmq';
import { DataSource } from 'typeorm';
import { MAX_TURNS_PER_REQUEST } from '../../src/conversations/dto/turn.dto';
import { FlushScheduler } from '../../src/conversations/turns/flush-scheduler';
import { fnv1a, TurnBuffer } from '../../src/conversations/turns/turn-buffer';
import { TurnDeadLetters } from '../../src/conversations/turns/turn-dead-letters';
import { TurnPersistenceService } from '../../src/conversations/turns/turn-persistence.service';
import { TurnRecord } from '../../src/conversations/turns/turn-record';
import { TurnsRepository } from '../../src/conversations/turns/turns.repository';
import { ClockModule } from '../../src/core/clock/clock.module';
import { ConfigModule } from '../../src/core/config/config.module';
import { DatabaseModule } from '../../src/core/database/database.module';
import { MetricsModule } from '../../src/core/metrics/metrics.module';
import { QueueModule } from '../../src/core/queue/queue.module';
import { QueueName } from '../../src/core/queue/queue-names';
import { RedisModule } from '../../src/core/redis/redis.module';
import { AccessWorld } from '../support/access-world';
import { waitFor } from '../support/fault-pipeline';
import { bootIntegration, Integration } from '../support/integration';

const BATCH_SIZE = 7;

/**
 * The turn persistence service below HTTP: turns accepted into the Redis buffer (the
 * ingest script the API runs) drained into Postgres by TurnPersistenceService, with a
 * database and a Redis prefix of the spec's own (the buffer stream is one per prefix,
 * and the failure tests put triggers on `turns`). Batches of at least BATCH_SIZE turns
 * (whole buffer entries, one per ingest call), so a drain runs several.
 */
describe('Turn persistence (integration)', () => {
  let integration: Integration;
  let db: DataSource;
  let world: AccessWorld;
  let buffer: TurnBuffer;
  let persistence: TurnPersistenceService;
  let turns: TurnsRepository;
  let deadLetters: TurnDeadLetters;
  let user: string;

  beforeAll(async () => {
    integration = await bootIntegration(
      'turns',
      {
        imports: [
          ConfigModule,
          ClockModule,
          DatabaseModule,
          RedisModule,
          QueueModule,
          MetricsModule,
          BullModule.registerQueue({ name: QueueName.TurnPersistence }),
        ],
        providers: [
          TurnBuffer,
          TurnsRepository,
          FlushScheduler,
          TurnPersistenceService,
          TurnDeadLetters,
        ],
      },
      { env: { TURN_BATCH_SIZE: String(BATCH_SIZE) } },
    );
    db = integration.db;
    world = new AccessWorld(db);
    buffer = integration.moduleRef.get(TurnBuffer);
    persistence = integration.moduleRef.get(TurnPersistenceService);
    turns = integration.moduleRef.get(TurnsRepository);
    deadLetters = integration.moduleRef.get(TurnDeadLetters);
    user = await world.user();
  });

  afterAll(() => integration?.close());

  function record(
    conversationId: string,
    messageNumber: number,
    overrides: Partial<TurnRecord> = {},
  ): TurnRecord {
    return {
      conversationId,
      messageNumber,
      speaker: `Speaker_${messageNumber % 2}`,
      rawText: `turn ${messageNumber}`,
      cleanedText: null,
      spokenAt: new Date(Date.now() - 60_000 + messageNumber).toISOString(),
      confidence: 0.5 + (messageNumber % 5) / 10,
      cleaningApplied: false,
      cleaningLevel: 'none',
      corrections: [],
      contextDetected: null,
      businessDomain: null,
      conversationFlow: null,
      aiModelUsed: null,
      transcriptionErrorDetected: false,
      processingTimeMs: messageNumber * 3,
      slidingWindowSize: null,
      contextTurnsUsed: null,
      ingestedBy: user,
      receivedAt: new Date().toISOString(),
      ...overrides,
    };
  }

  const numbers = (from: number, to: number): number[] =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  async function accept(conversationId: string, messageNumbers: number[]): Promise<TurnRecord[]> {
    const records = messageNumbers.map((n) => record(conversationId, n));
    const result = await buffer.ingest(conversationId, records);
    expect(result).toEqual({ accepted: records.length, duplicates: 0 });
    return records;
  }

  async function rows(conversationId: string): Promise<number[]> {
    const found = await db.query<{ n: number }[]>(
      'SELECT message_number AS n FROM turns WHERE conversation_id = $1 ORDER BY message_number',
      [conversationId],
    );
    return found.map((r) => r.n);
  }

  /** The buffer holds nothing: no entry in the stream, none delivered and unacknowledged. */
  async function expectBufferEmpty(conversationId: string): Promise<void> {
    expect(await buffer.backlog()).toEqual({ length: 0, pending: 0 });
    expect(await buffer.pendingCount(conversationId)).toBe(0);
  }

  /** Runs `body` (PL/pgSQL) on every row inserted into turns, until the returned drop. */
  async function onTurnInsert(
    name: string,
    timing: 'BEFORE' | 'AFTER',
    body: string,
  ): Promise<() => Promise<void>> {
    await db.query(
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body} RETURN NEW; END $$`,
    );
    await db.query(
      `CREATE TRIGGER ${name} ${timing} INSERT ON turns FOR EACH ROW EXECUTE FUNCTION ${name}()`,
    );
    return async () => {
      await db.query(`DROP TRIGGER ${name} ON turns`);
      await db.query(`DROP FUNCTION ${name}()`);
    };
  }

  /** Makes Postgres fail on the row of `rawText` with SQLSTATE `code`, until dropped. */
  function failOn(rawText: string, code: string): Promise<() => Promise<void>> {
    return onTurnInsert(
      'integration_fail_turn',
      'AFTER',
      `IF NEW.raw_text = '${rawText}' THEN
         RAISE EXCEPTION 'integration: refused %', NEW.message_number USING ERRCODE = '${code}';
       END IF;`,
    );
  }

  describe('draining accepted turns', () => {
    it('moves every accepted turn from the buffer into Postgres once, in several batches', async () => {
      const conversation = await world.conversation(user);
      // Six requests: six buffer entries of five turns; a batch takes two (≥ 7 turns).
      for (let first = 1; first <= 30; first += 5)
        await accept(conversation, numbers(first, first + 4));
      // A duplicate accepted again is not buffered a second time.
      expect(await buffer.ingest(conversation, [record(conversation, 5)])).toEqual({
        accepted: 0,
        duplicates: 1,
      });
      expect(await buffer.pendingCount(conversation)).toBe(30);

      const first = await persistence.drain();
      expect(first).toMatchObject({ persisted: 30, duplicates: 0 });
      // A statement takes whole entries until it holds BATCH_SIZE turns: at most two here.
      expect(first.batches).toBeGreaterThanOrEqual(3);
      expect(await rows(conversation)).toEqual(numbers(1, 30));
      await expectBufferEmpty(conversation);

      expect(await persistence.drain()).toEqual({ persisted: 0, duplicates: 0, batches: 0 });
      expect(await rows(conversation)).toEqual(numbers(1, 30));
    });

    it('accepts the largest request (MAX_TURNS_PER_REQUEST turns) in one script run, duplicates counted in order', async () => {
      const conversation = await world.conversation(user);
      const largest = numbers(1, MAX_TURNS_PER_REQUEST).map((n) => record(conversation, n));
      // The last number again: a duplicate of a turn of the same request.
      largest[largest.length - 1] = record(conversation, MAX_TURNS_PER_REQUEST - 1);
      expect(await buffer.ingest(conversation, largest)).toEqual({
        accepted: MAX_TURNS_PER_REQUEST - 1,
        duplicates: 1,
      });
      expect(await buffer.pendingNumbers(conversation)).toEqual(
        numbers(1, MAX_TURNS_PER_REQUEST - 1),
      );
      await persistence.drain();
      expect(await rows(conversation)).toEqual(numbers(1, MAX_TURNS_PER_REQUEST - 1));
      await expectBufferEmpty(conversation);
    });

    it("acknowledging a request's entry takes only its own turns out of the pending set", async () => {
      const conversation = await world.conversation(user);
      await accept(conversation, [1, 3, 5]);
      await accept(conversation, [2, 4, 6]);
      const [first] = await buffer.readNew(persistence.consumer, 1);
      expect(first).toMatchObject({ kind: 'turns', numbers: [1, 3, 5] });
      await turns.appendBatch(JSON.parse(first!.raw) as TurnRecord[], new Date());
      await buffer.acknowledge([first!]);
      expect(await buffer.pendingNumbers(conversation)).toEqual([2, 4, 6]);
      expect(await persistence.drain()).toEqual({ persisted: 3, duplicates: 0, batches: 1 });
      expect(await rows(conversation)).toEqual(numbers(1, 6));
      await expectBufferEmpty(conversation);
    });
  });

  describe('lanes: conversations stored at once', () => {
    /** Two conversations of the user that fall into different lanes (of the default two). */
    async function conversationsInTwoLanes(): Promise<[string, string]> {
      const byLane = new Map<number, string>();
      while (byLane.size < 2) {
        const conversation = await world.conversation(user);
        byLane.set(fnv1a(conversation) % 2, conversation);
      }
      return [byLane.get(0)!, byLane.get(1)!];
    }

    /** Holds every insert of a turn whose rawText is `rawText` until `release` is called. */
    async function holdInsertsOf(rawText: string): Promise<() => Promise<void>> {
      const holder = db.createQueryRunner();
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock(4242)');
      const drop = await onTurnInsert(
        'integration_hold_turn',
        'BEFORE',
        `IF NEW.raw_text = '${rawText}' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;`,
      );
      return async () => {
        await holder.query('SELECT pg_advisory_unlock(4242)');
        await holder.release();
        await drop();
      };
    }

    /**
     * Turns 1..count accepted in two conversations of different lanes; in the first, turn
     * `marked` has the rawText `mark` (what a trigger picks out).
     */
    async function acceptInTwoLanes(
      count: number,
      marked: number,
      mark: string,
    ): Promise<[string, string]> {
      const [first, second] = await conversationsInTwoLanes();
      await buffer.ingest(
        first,
        numbers(1, count).map((n) => record(first, n, n === marked ? { rawText: mark } : {})),
      );
      await accept(second, numbers(1, count));
      return [first, second];
    }

    it("one conversation's slow statement does not hold back another conversation's turns", async () => {
      const [slow, other] = await acceptInTwoLanes(4, 2, 'held');
      const release = await holdInsertsOf('held');
      let drained: Promise<unknown> | undefined;
      try {
        drained = persistence.drain();
        // In one statement (or one lane after the other) `other` would wait for `slow`.
        await waitFor(
          () => rows(other),
          (stored) => stored.length === 4,
          5000,
          (stored) => `the other lane's rows: ${stored.join(', ') || 'none'}`,
          20,
        );
        expect(await rows(slow)).toEqual([]);
        expect(await buffer.pendingNumbers(other)).toEqual([]);
        expect(await buffer.pendingNumbers(slow)).toEqual(numbers(1, 4));
      } finally {
        await release();
      }
      await drained;
      expect(await rows(slow)).toEqual(numbers(1, 4));
      await expectBufferEmpty(slow);
    });

    it("a lane that fails leaves its turns pending; the other lane's are stored and acknowledged once", async () => {
      const [failing, other] = await acceptInTwoLanes(3, 3, 'lane-outage');
      const drop = await failOn('lane-outage', '40001');
      try {
        await expect(persistence.drain()).rejects.toThrow(/integration: refused 3/);
        expect(await rows(other)).toEqual(numbers(1, 3));
        expect(await buffer.pendingNumbers(other)).toEqual([]);
        expect(await rows(failing)).toEqual([]);
        expect(await buffer.pendingNumbers(failing)).toEqual(numbers(1, 3));
      } finally {
        await drop();
      }
      expect(await persistence.drain()).toEqual({ persisted: 3, duplicates: 0, batches: 1 });
      expect(await rows(failing)).toEqual(numbers(1, 3));
      expect(await rows(other)).toEqual(numbers(1, 3));
      await expectBufferEmpty(failing);
      const counted = await db.query<{ turns: number }[]>(
        'SELECT turns_count::int AS turns FROM conversations WHERE id = ANY($1) ORDER BY id',
        [[failing, other]],
      );
      expect(counted.map((c) => c.turns)).toEqual([3, 3]);
    });
  });

  describe('re-persisting the same entries', () => {
    it('a batch stored but not acknowledged (crash between commit and ack) is harmless when drained again', async () => {
      const conversation = await world.conversation(user);
      await accept(conversation, numbers(1, 5));
      // A worker reads the batch and commits it, then dies before acknowledging.
      const delivered = await buffer.readNew(persistence.consumer, BATCH_SIZE);
      expect(delivered.flatMap((e) => (e.kind === 'turns' ? e.numbers : []))).toEqual(
        numbers(1, 5),
      );
      const stored = delivered.flatMap((e) =>
        e.kind === 'turns' ? (JSON.parse(e.raw) as TurnRecord[]) : [],
      );
      expect(await turns.appendBatch(stored, new Date())).toBe(5);
      // Stored twice by hand: nothing new.
      expect(await turns.appendBatch(stored, new Date())).toBe(0);
      expect(await buffer.backlog()).toEqual({ length: 1, pending: 1 });

      // The next drain takes its own pending entries first: all duplicates, then acknowledged.
      expect(await persistence.drain()).toEqual({ persisted: 0, duplicates: 5, batches: 1 });
      expect(await rows(conversation)).toEqual(numbers(1, 5));
      await expectBufferEmpty(conversation);
      const [counters] = await db.query<{ turns: number }[]>(
        'SELECT turns_count::int AS turns FROM conversations WHERE id = $1',
        [conversation],
      );
      expect(counters!.turns).toBe(5);
    });
  });

  describe('counters', () => {
    it("equal the rows: each conversation's turns, processing time and confidence, and the ingesting user's usage", async () => {
      const [a, b] = [await world.conversation(user), await world.conversation(user)];
      const usageBefore = await usage(user);
      await accept(a, numbers(1, 12));
      await accept(b, numbers(1, 9));
      await persistence.drain();
      // The same turns stored again (a retried batch) change no counter.
      await turns.appendBatch(
        numbers(1, 12).map((n) => record(a, n)),
        new Date(),
      );
      for (const conversation of [a, b]) {
        const [row] = await db.query<
          {
            turns_count: number;
            rows: number;
            processing: string;
            summed_processing: string;
            confidence: number;
            summed_confidence: number;
          }[]
        >(
          `SELECT c.turns_count::int AS turns_count, count(t.id)::int AS rows,
                  c.total_processing_time_ms::text AS processing,
                  coalesce(sum(t.processing_time_ms), 0)::text AS summed_processing,
                  c.confidence_sum AS confidence, coalesce(sum(t.confidence), 0) AS summed_confidence
             FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id
            WHERE c.id = $1
            GROUP BY c.id`,
          [conversation],
        );
        expect(row!.turns_count).toBe(row!.rows);
        expect(row!.processing).toBe(row!.summed_processing);
        expect(row!.confidence).toBeCloseTo(row!.summed_confidence, 3);
      }
      expect((await rows(a)).length + (await rows(b)).length).toBe(21);
      expect((await usage(user)) - usageBefore).toBe(21);
    });

    async function usage(userId: string): Promise<number> {
      const [row] = await db.query<{ n: number }[]>(
        'SELECT coalesce(sum(turns_ingested), 0)::int AS n FROM usage_statistics WHERE user_id = $1',
        [userId],
      );
      return row!.n;
    }
  });

  describe('acknowledging only after commit', () => {
    it('a batch that fails mid-statement (an outage-like error) stores nothing and stays pending, then persists once', async () => {
      const conversation = await world.conversation(user);
      const records = numbers(1, 6).map((n) =>
        record(conversation, n, n === 4 ? { rawText: 'fail-transiently' } : {}),
      );
      await buffer.ingest(conversation, records);
      // 40001 (serialization failure) may pass later: retried, never dropped.
      const drop = await failOn('fail-transiently', '40001');
      try {
        await expect(persistence.drain()).rejects.toThrow(/integration: refused 4/);
        expect(await rows(conversation)).toEqual([]);
        expect(await buffer.backlog()).toEqual({ length: 1, pending: 1 });
        expect(await buffer.pendingNumbers(conversation)).toEqual(numbers(1, 6));
        // Every later drain retries the same entries first, and fails the same way.
        await expect(persistence.drain()).rejects.toThrow(/integration: refused 4/);
        expect(await buffer.backlog()).toEqual({ length: 1, pending: 1 });
      } finally {
        await drop();
      }
      expect(await persistence.drain()).toEqual({ persisted: 6, duplicates: 0, batches: 1 });
      expect(await rows(conversation)).toEqual(numbers(1, 6));
      await expectBufferEmpty(conversation);
      const [counters] = await db.query<{ turns: number }[]>(
        'SELECT turns_count::int AS turns FROM conversations WHERE id = $1',
        [conversation],
      );
      expect(counters!.turns).toBe(6);
    });

    it('a turn the database refuses (integrity violation) is dead-lettered alone; the rest of its batch is stored', async () => {
      const conversation = await world.conversation(user);
      const records = numbers(1, 6).map((n) =>
        record(conversation, n, n === 3 ? { rawText: 'refuse-for-ever' } : {}),
      );
      await buffer.ingest(conversation, records);
      const deadBefore = await buffer.deadLetterCount();
      const drop = await failOn('refuse-for-ever', '23514');
      try {
        expect(await persistence.drain()).toEqual({
          persisted: 5,
          duplicates: 1,
          batches: 1,
        });
      } finally {
        await drop();
      }
      expect(await rows(conversation)).toEqual([1, 2, 4, 5, 6]);
      expect(await buffer.deadLetterCount()).toBe(deadBefore + 1);
      await expectBufferEmpty(conversation);
    });

    /** The dead letters of one conversation: messageNumber and the JSON as buffered. */
    async function lettersOf(conversationId: string): Promise<[number, string][]> {
      return (await deadLetters.list(undefined, 1000))
        .filter((letter) => letter.conversationId === conversationId)
        .map((letter) => [letter.turn.messageNumber, letter.raw]);
    }

    async function turnsCount(conversationId: string): Promise<number> {
      const [row] = await db.query<{ n: number }[]>(
        'SELECT turns_count::int AS n FROM conversations WHERE id = $1',
        [conversationId],
      );
      return row!.n;
    }

    it("refused turns inside one request's entry are dead-lettered one by one, as buffered; the rest of the batch is stored", async () => {
      const conversation = await world.conversation(user);
      const records = numbers(1, 6).map((n) =>
        record(conversation, n, n === 2 || n === 5 ? { rawText: 'refuse-for-ever' } : {}),
      );
      await buffer.ingest(conversation, records);
      await accept(conversation, [7, 8]);
      const drop = await failOn('refuse-for-ever', '23514');
      try {
        expect(await persistence.drain()).toEqual({ persisted: 6, duplicates: 2, batches: 1 });
      } finally {
        await drop();
      }
      expect(await rows(conversation)).toEqual([1, 3, 4, 6, 7, 8]);
      expect(await turnsCount(conversation)).toBe(6);
      expect(await lettersOf(conversation)).toEqual([
        [2, JSON.stringify(records[1])],
        [5, JSON.stringify(records[4])],
      ]);
      await expectBufferEmpty(conversation);
    });

    it('a retry after a crash between storing the accepted turns and dead-lettering the refused one stores nothing twice and dead-letters it once', async () => {
      const conversation = await world.conversation(user);
      const records = numbers(1, 4).map((n) =>
        record(conversation, n, n === 2 ? { rawText: 'refuse-for-ever' } : {}),
      );
      await buffer.ingest(conversation, records);
      // The worker took the entry and stored the turns the database accepts, then died.
      const [taken] = await buffer.readNew(persistence.consumer, BATCH_SIZE);
      expect(taken).toMatchObject({ kind: 'turns', numbers: [1, 2, 3, 4] });
      await turns.appendBatch([records[0]!, records[2]!, records[3]!], new Date());
      const drop = await failOn('refuse-for-ever', '23514');
      try {
        expect(await persistence.drain()).toEqual({ persisted: 0, duplicates: 4, batches: 1 });
        expect(await persistence.drain()).toEqual({ persisted: 0, duplicates: 0, batches: 0 });
      } finally {
        await drop();
      }
      expect(await rows(conversation)).toEqual([1, 3, 4]);
      expect(await turnsCount(conversation)).toBe(3);
      expect(await lettersOf(conversation)).toEqual([[2, JSON.stringify(records[1])]]);
      await expectBufferEmpty(conversation);
    });
  });
});
