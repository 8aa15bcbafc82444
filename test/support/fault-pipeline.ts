import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { Pool } from 'pg';
import TestAgent from 'supertest/lib/agent';
import { QueueName } from '../../src/core/queue/queue-names';
import { Environment } from '../../src/core/config/environment';
import { bullPrefix } from '../../src/core/queue/queue.module';
import {
  createRedisClient,
  isCluster,
  redisOptionsFromUrl,
} from '../../src/core/redis/redis-options';
import { PERSISTERS_GROUP, TurnKeys } from '../../src/conversations/turns/turn-buffer';
import { turn } from './turns';

/**
 * Shared pieces of the turn-pipeline fault tests (test/fault): what is observed goes
 * around the faulty path (a direct Postgres pool, a plain Redis client), never
 * through the app under test.
 */

/** One line of measurements for the run's output (the fault tests' timings). */
export function report(line: string): void {
  process.stdout.write(`[fault] ${line}\n`);
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Redis key prefix of the test's own under the run's prefix (so the global teardown
 * still deletes it): no other test file's in-process worker consumes this buffer.
 */
export function faultPrefix(tag: string): string {
  return `${process.env.REDIS_PREFIX}-${tag}-${Date.now().toString(36)}`;
}

/** Integer from the environment, for the heavier `npm run chaos` variants. */
export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * The run's own database and Redis, read when this module loads: startApp() overrides
 * process.env while an app runs (e.g. DATABASE_URL pointing at a fault proxy).
 */
export const RUN_DATABASE_URL = process.env.DATABASE_URL!;
export const RUN_REDIS_URL = process.env.REDIS_URL!;

/** A pool on the run's database itself, never through a fault proxy. */
export function directPool(): Pool {
  const pool = new Pool({ connectionString: RUN_DATABASE_URL, max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

export async function persistedRows(pool: Pool, conversationIds: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM turns WHERE conversation_id = ANY($1::uuid[])',
    [conversationIds],
  );
  return rows[0]!.n;
}

/** Polls until `check` holds; on timeout fails with `describe` of the last value. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs: number,
  describe: (value: T) => string,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`not reached in ${timeoutMs} ms: ${describe(value)}`);
    await sleep(everyMs);
  }
}

const sample = (numbers: number[]): string =>
  numbers.length === 0 ? 'none' : `${numbers.length} (${numbers.slice(0, 10).join(', ')}…)`;

/**
 * The fault tests' final verdict, per conversation: the rows are exactly `expected`
 * (each messageNumber once: count(*) = count(distinct) = |expected|, nothing missing,
 * nothing extra) and `conversations.turns_count` equals the row count.
 */
export async function expectExactlyOnce(
  pool: Pool,
  expected: Map<string, Iterable<number>>,
): Promise<void> {
  for (const [conversationId, numbers] of expected) {
    const want = new Set(numbers);
    const {
      rows: [counts],
    } = await pool.query<{ rows: number; distinct: number; turns_count: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT t.message_number)::int AS distinct,
              (SELECT turns_count::int FROM conversations WHERE id = $1) AS turns_count
         FROM turns t WHERE t.conversation_id = $1`,
      [conversationId],
    );
    const { rows } = await pool.query<{ n: number }>(
      'SELECT message_number AS n FROM turns WHERE conversation_id = $1',
      [conversationId],
    );
    const have = new Set(rows.map((r) => r.n));
    const missing = [...want].filter((n) => !have.has(n)).sort((a, b) => a - b);
    const extra = [...have].filter((n) => !want.has(n)).sort((a, b) => a - b);
    const verdict = {
      conversationId,
      expected: want.size,
      rows: counts!.rows,
      distinct: counts!.distinct,
      turnsCount: counts!.turns_count,
      missing: sample(missing),
      extra: sample(extra),
    };
    expect(verdict).toEqual({
      conversationId,
      expected: want.size,
      rows: want.size,
      distinct: want.size,
      turnsCount: want.size,
      missing: 'none',
      extra: 'none',
    });
  }
}

/** The numbers `from`..`to` inclusive. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export interface IngestOutcome {
  conversationId: string;
  numbers: number[];
  /** HTTP status, or 0 when the request itself failed (connection error, timeout). */
  status: number;
  body: unknown;
  startedAt: number;
  endedAt: number;
}

/**
 * Posts turn batches and keeps every outcome, so a test can tell exactly which turns
 * were acknowledged with 202 (accepted or reported as duplicates of an earlier accept:
 * either way the server holds them).
 */
export class Ingestor {
  readonly outcomes: IngestOutcome[] = [];

  constructor(
    private readonly http: TestAgent,
    private readonly auth: Record<string, string>,
  ) {}

  async post(conversationId: string, numbers: number[]): Promise<IngestOutcome> {
    const startedAt = Date.now();
    let status = 0;
    let body: unknown;
    try {
      const response = await this.http
        .post(`/api/v1/conversations/${conversationId}/turns`)
        .set(this.auth)
        .timeout(30_000)
        .send({ turns: numbers.map((n) => turn(n)) });
      status = response.status;
      body = response.body as unknown;
    } catch (error) {
      body = error instanceof Error ? error.message : String(error);
    }
    const outcome = { conversationId, numbers, status, body, startedAt, endedAt: Date.now() };
    this.outcomes.push(outcome);
    return outcome;
  }

  /** Every messageNumber acknowledged with 202, per conversation. */
  acked(): Map<string, Set<number>> {
    const acked = new Map<string, Set<number>>();
    for (const outcome of this.outcomes) {
      if (outcome.status !== 202) continue;
      const set = acked.get(outcome.conversationId) ?? new Set<number>();
      outcome.numbers.forEach((n) => set.add(n));
      acked.set(outcome.conversationId, set);
    }
    return acked;
  }

  ackedCount(): number {
    return [...this.acked().values()].reduce((sum, set) => sum + set.size, 0);
  }

  statuses(): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const { status } of this.outcomes) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }
}

/**
 * Posts `batches` with `concurrency` requests in flight, in order; `onEach` runs after
 * each answer (used to inject the fault at the right moment).
 */
export async function ingestAll(
  ingestor: Ingestor,
  batches: { conversationId: string; numbers: number[] }[],
  concurrency: number,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        await ingestor.post(batch.conversationId, batch.numbers);
      }
    }),
  );
}

/** `total` turns spread round-robin over the conversations, `batchSize` per request. */
export function planBatches(
  conversationIds: string[],
  perConversation: number,
  batchSize: number,
): { conversationId: string; numbers: number[] }[] {
  const batches: { conversationId: string; numbers: number[] }[] = [];
  for (let from = 1; from <= perConversation; from += batchSize) {
    const to = Math.min(perConversation, from + batchSize - 1);
    for (const conversationId of conversationIds)
      batches.push({ conversationId, numbers: range(from, to) });
  }
  return batches;
}

/** The value of one field of a stream entry (fields alternate name, value). */
function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Where a probe looks: the run's single Redis server, or a Redis Cluster. */
export interface ProbeTarget {
  redisUrl: string;
  /** REDIS_CLUSTER_NODES of the app under test; set: its TURN_BUFFER_SHARDS tagged buffers. */
  clusterNodes?: string;
}

/**
 * Looks at the turn buffer and the turn-persistence queue of one app (one REDIS_PREFIX)
 * from outside: its own client, no key prefix. On a Redis Cluster the buffer is the
 * app's TURN_BUFFER_SHARDS streams (TurnKeys names them), summed.
 */
export class PipelineProbe {
  readonly redis: Redis;
  readonly queue: Queue;
  private readonly keys: TurnKeys;

  constructor(
    target: string | ProbeTarget,
    readonly prefix: string,
  ) {
    const { redisUrl, clusterNodes } =
      typeof target === 'string' ? { redisUrl: target, clusterNodes: undefined } : target;
    const cluster = isCluster({ clusterNodes });
    this.redis = createRedisClient({ url: redisUrl, clusterNodes, maxRetriesPerRequest: 1 });
    this.redis.on('error', () => undefined);
    this.keys = new TurnKeys(cluster, new Environment().TURN_BUFFER_SHARDS);
    this.queue = new Queue(QueueName.TurnPersistence, {
      connection: cluster
        ? createRedisClient({ url: redisUrl, clusterNodes, maxRetriesPerRequest: null })
        : { ...redisOptionsFromUrl(redisUrl), maxRetriesPerRequest: null },
      prefix: bullPrefix(prefix, cluster),
    });
    this.queue.on('error', () => undefined);
  }

  private bufferKeys(): string[] {
    return this.keys.allShards().map((shard) => `${this.prefix}:${this.keys.buffer(shard)}`);
  }

  /** Entries still in the buffer (appended and not yet persisted + acknowledged). */
  async bufferLength(): Promise<number> {
    const lengths = await Promise.all(this.bufferKeys().map((key) => this.redis.xlen(key)));
    return lengths.reduce((sum, n) => sum + n, 0);
  }

  /**
   * Turns (and revisions) still in the buffer: an entry holds every turn one request
   * accepted (its `n` field lists their numbers), or one turn or revision.
   */
  async bufferTurns(): Promise<number> {
    let turns = 0;
    for (const key of this.bufferKeys()) {
      for (let from = '-'; ;) {
        const entries = await this.redis.xrange(key, from, '+', 'COUNT', 500);
        for (const [, fields] of entries) {
          const numbers = fieldValue(fields, 'n');
          turns += numbers ? numbers.split(',').length : 1;
        }
        if (entries.length < 500) break;
        from = `(${entries[entries.length - 1]![0]}`;
      }
    }
    return turns;
  }

  /** Entries delivered to each consumer and not acknowledged, over every buffer. */
  async pendingByConsumer(): Promise<Record<string, number>> {
    const held: Record<string, number> = {};
    for (const key of this.bufferKeys()) {
      const summary = (await this.redis.xpending(key, PERSISTERS_GROUP).catch((error: unknown) => {
        // No group (yet, or any more: Redis lost it): nothing is delivered and unacknowledged.
        if (error instanceof Error && error.message.includes('NOGROUP'))
          return [0, null, null, null];
        throw error;
      })) as [number, string | null, string | null, [string, string][] | null];
      for (const [name, n] of summary[3] ?? []) held[name] = (held[name] ?? 0) + Number(n);
    }
    return held;
  }

  /** Turns in a conversation's read-your-writes set (accepted, not yet persisted). */
  pendingTurns(conversationId: string): Promise<number> {
    return this.redis.zcard(`${this.prefix}:${this.keys.pending(conversationId)}`);
  }

  async expectDrained(conversationIds: string[]): Promise<void> {
    const pending = await Promise.all(conversationIds.map((id) => this.pendingTurns(id)));
    expect({
      buffer: await this.bufferLength(),
      unacknowledged: await this.pendingByConsumer(),
      pendingTurns: pending,
    }).toEqual({ buffer: 0, unacknowledged: {}, pendingTurns: conversationIds.map(() => 0) });
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }
}
