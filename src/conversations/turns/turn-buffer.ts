import { Injectable, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import { InjectRedis } from '../../core/redis/redis.module';
import { TurnRecord } from './turn-record';

/** Name of the consumer group of persistence workers on the buffer stream. */
export const PERSISTERS_GROUP = 'persisters';

const key = {
  /** One bit per messageNumber already accepted: the duplicate detector. */
  seen: (id: string) => `conv:${id}:seen`,
  /** Accepted but not yet persisted turns, scored by messageNumber (read-your-writes). */
  pending: (id: string) => `conv:${id}:pending`,
  /** The live window, scored by spokenAt (ms), trimmed to the TTL. */
  live: (id: string) => `conv:${id}:live`,
  /** Recent arrivals in order, for Server-Sent Events and their resumption. */
  events: (id: string) => `conv:${id}:events`,
  /** Set when the conversation ended: the script refuses further turns atomically. */
  closed: (id: string) => `conv:${id}:closed`,
  /** The durable buffer every worker drains: a stream with a consumer group. */
  buffer: 'turns:buffer',
  /** Turns the database refused, kept with the reason for an operator; never trimmed. */
  dead: 'turns:dead',
};

/**
 * Accepts a batch atomically: for each turn not seen before, mark it seen, add it to
 * the pending set, the live window, the event stream and the durable buffer. Either
 * all of a turn's writes happen or none, so a turn is never marked seen without
 * being buffered (which would drop it on a retry).
 * Returns {accepted, duplicates}, or {-1, 0} when the conversation has ended.
 */
const INGEST_SCRIPT = `
if redis.call('EXISTS', KEYS[6]) == 1 then return {-1, 0} end
local ttl = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local conversation = ARGV[3]
local count = tonumber(ARGV[4])
local accepted, duplicates = 0, 0
for i = 0, count - 1 do
  local number = tonumber(ARGV[5 + i * 3])
  local spoken = ARGV[6 + i * 3]
  local turn = ARGV[7 + i * 3]
  if redis.call('SETBIT', KEYS[1], number, 1) == 0 then
    redis.call('ZADD', KEYS[2], number, turn)
    redis.call('ZADD', KEYS[3], spoken, turn)
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'turn', turn)
    redis.call('XADD', KEYS[5], '*', 'c', conversation, 'turn', turn)
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl * 1000)
return {accepted, duplicates}
`;

export interface BufferedEntry {
  streamId: string;
  conversationId: string;
  raw: string;
  turn: TurnRecord;
}

type StreamReply = [string, [string, string[]][]][] | null;

function parseEntries(entries: [string, string[]][]): BufferedEntry[] {
  return entries.flatMap(([streamId, fields]) => {
    // A deleted-but-pending entry comes back with no fields; it has nothing to persist.
    if (!fields || fields.length < 4) return [];
    const raw = fields[3]!;
    return [{ streamId, conversationId: fields[1]!, raw, turn: JSON.parse(raw) as TurnRecord }];
  });
}

/**
 * Everything the turn pipeline keeps in Redis, behind intention-revealing methods.
 * Keys carry the app's REDIS_PREFIX through the client's keyPrefix, so a hash-tagged
 * prefix keeps every key of the script in one Redis Cluster slot.
 */
@Injectable()
export class TurnBuffer implements OnModuleInit {
  private readonly ttlSeconds: number;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.ttlSeconds = config.get('LIVE_WINDOW_TTL_SECONDS');
    this.redis.defineCommand('ingestTurns', { numberOfKeys: 6, lua: INGEST_SCRIPT });
  }

  async onModuleInit(): Promise<void> {
    await this.ensureGroup();
  }

  private async ensureGroup(): Promise<void> {
    try {
      // ioredis does not apply keyPrefix to XGROUP's key (it follows a subcommand): add it here.
      const prefixed = `${this.redis.options.keyPrefix ?? ''}${key.buffer}`;
      await this.redis.xgroup('CREATE', prefixed, PERSISTERS_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('BUSYGROUP')) throw error;
    }
  }

  async ingest(
    conversationId: string,
    turns: TurnRecord[],
  ): Promise<{ accepted: number; duplicates: number } | 'closed'> {
    const args: (string | number)[] = [
      this.ttlSeconds,
      this.clock.nowMs(),
      conversationId,
      turns.length,
    ];
    for (const turn of turns)
      args.push(turn.messageNumber, Date.parse(turn.spokenAt), JSON.stringify(turn));
    const run = (
      this.redis as unknown as Record<
        'ingestTurns',
        (...a: (string | number)[]) => Promise<[number, number]>
      >
    ).ingestTurns;
    const [accepted, duplicates] = await run.call(
      this.redis,
      key.seen(conversationId),
      key.pending(conversationId),
      key.live(conversationId),
      key.events(conversationId),
      key.buffer,
      key.closed(conversationId),
      ...args,
    );
    return accepted < 0 ? 'closed' : { accepted, duplicates };
  }

  async markClosed(conversationId: string): Promise<void> {
    await this.redis.set(key.closed(conversationId), '1', 'EX', 7 * 86400);
  }

  async reopen(conversationId: string): Promise<void> {
    await this.redis.del(key.closed(conversationId));
  }

  // --- reads ---------------------------------------------------------------------

  /** Buffered turns with messageNumber in (after, before), ascending, at most `limit`. */
  async pendingBetween(
    conversationId: string,
    after: number,
    before: number,
    limit: number,
  ): Promise<TurnRecord[]> {
    const raws = await this.redis.zrangebyscore(
      key.pending(conversationId),
      `(${after}`,
      `(${before}`,
      'LIMIT',
      0,
      limit,
    );
    return raws.map((raw) => JSON.parse(raw) as TurnRecord);
  }

  /** The last `limit` buffered turns before `before`, descending. */
  async pendingBefore(
    conversationId: string,
    before: number,
    limit: number,
  ): Promise<TurnRecord[]> {
    const raws = await this.redis.zrevrangebyscore(
      key.pending(conversationId),
      `(${before}`,
      '-inf',
      'LIMIT',
      0,
      limit,
    );
    return raws.map((raw) => JSON.parse(raw) as TurnRecord);
  }

  /** messageNumbers buffered but not yet persisted. */
  async pendingNumbers(conversationId: string): Promise<number[]> {
    const flat = await this.redis.zrange(key.pending(conversationId), 0, -1, 'WITHSCORES');
    const numbers: number[] = [];
    for (let i = 1; i < flat.length; i += 2) numbers.push(Number(flat[i]));
    return numbers;
  }

  pendingCount(conversationId: string): Promise<number> {
    return this.redis.zcard(key.pending(conversationId));
  }

  /** Turns spoken since `sinceMs`, or null when the conversation has no live window. */
  async liveSince(conversationId: string, sinceMs: number): Promise<TurnRecord[] | null> {
    const [[, exists], [, raws]] = (await this.redis
      .multi()
      .exists(key.live(conversationId))
      .zrangebyscore(key.live(conversationId), sinceMs, '+inf')
      .exec()) as [[null, number], [null, string[]]];
    return exists ? raws.map((raw) => JSON.parse(raw) as TurnRecord) : null;
  }

  /**
   * The Redis stream of a conversation's arrivals (`turn` field = the TurnRecord JSON),
   * which live subscribers follow through the shared reader (src/core/sse).
   */
  eventsKey(conversationId: string): string {
    return key.events(conversationId);
  }

  // --- draining (workers) -----------------------------------------------------------

  /** Takes over entries that a dead consumer has held longer than `idleMs`. */
  async reclaim(consumer: string, idleMs: number, count: number): Promise<number> {
    let cursor = '0-0';
    let claimed = 0;
    do {
      const [next, entries] = await this.inGroup(
        () =>
          this.redis.xautoclaim(
            key.buffer,
            PERSISTERS_GROUP,
            consumer,
            idleMs,
            cursor,
            'COUNT',
            count,
            'JUSTID',
          ) as Promise<[string, string[]]>,
        ['0-0', []] as [string, string[]],
      );
      claimed += entries.length;
      cursor = next;
    } while (cursor !== '0-0' && claimed < count * 10);
    return claimed;
  }

  /** Entries delivered to this consumer and not yet acknowledged (after a failure or a reclaim). */
  readOwnPending(consumer: string, count: number): Promise<BufferedEntry[]> {
    return this.readGroup(consumer, count, '0');
  }

  readNew(consumer: string, count: number): Promise<BufferedEntry[]> {
    return this.readGroup(consumer, count, '>');
  }

  /** `from` is `0` for this consumer's own pending entries, `>` for entries nobody has had. */
  private async readGroup(
    consumer: string,
    count: number,
    from: '0' | '>',
  ): Promise<BufferedEntry[]> {
    const reply = await this.inGroup(
      () =>
        this.redis.xreadgroup(
          'GROUP',
          PERSISTERS_GROUP,
          consumer,
          'COUNT',
          count,
          'STREAMS',
          key.buffer,
          from,
        ) as Promise<StreamReply>,
      null,
    );
    return parseEntries(reply?.[0]?.[1] ?? []);
  }

  /**
   * Runs a command on the consumer group. If the stream or its group vanished (Redis
   * restarted without its data, flushed, failed over to an empty replica), recreates the
   * group and answers `empty`, so the workers carry on with what is accepted from then
   * on. Every group command needs this: drain() reclaims and reads its own entries
   * before it reads new ones, so a NOGROUP there failed every drain for good.
   */
  private async inGroup<T>(command: () => Promise<T>, empty: T): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOGROUP')) throw error;
      await this.ensureGroup();
      return empty;
    }
  }

  /** After the rows are committed: drop the entries from the buffer and the pending sets. */
  async acknowledge(entries: BufferedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const ids = entries.map((e) => e.streamId);
    const pipeline = this.redis
      .pipeline()
      .xack(key.buffer, PERSISTERS_GROUP, ...ids)
      .xdel(key.buffer, ...ids);
    const byConversation = new Map<string, string[]>();
    for (const entry of entries) {
      const list = byConversation.get(entry.conversationId) ?? [];
      list.push(entry.raw);
      byConversation.set(entry.conversationId, list);
    }
    for (const [conversationId, raws] of byConversation)
      pipeline.zrem(key.pending(conversationId), ...raws);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /**
   * Moves one entry the database refuses to the dead-letter stream (with the reason) and
   * acknowledges it, atomically, so it is neither lost nor retried for ever.
   */
  async deadLetter(entry: BufferedEntry, reason: string): Promise<void> {
    const results = await this.redis
      .multi()
      .xadd(
        key.dead,
        '*',
        'c',
        entry.conversationId,
        'turn',
        entry.raw,
        'reason',
        reason.slice(0, 500),
      )
      .xack(key.buffer, PERSISTERS_GROUP, entry.streamId)
      .xdel(key.buffer, entry.streamId)
      .zrem(key.pending(entry.conversationId), entry.raw)
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  deadLetterCount(): Promise<number> {
    return this.redis.xlen(key.dead);
  }

  /** Entries waiting in the buffer: delivered-but-unacknowledged plus never delivered. */
  async backlog(): Promise<{ length: number; pending: number }> {
    const [[, length], [, summary]] = (await this.redis
      .multi()
      .xlen(key.buffer)
      .xpending(key.buffer, PERSISTERS_GROUP)
      .exec()) as [[null, number], [null, [number, ...unknown[]]]];
    return { length, pending: Number(summary?.[0] ?? 0) };
  }

  /** Age in ms of the oldest entry still in the buffer (0 when empty): the persistence lag. */
  async oldestAgeMs(): Promise<number> {
    const [first] = (await this.redis.xrange(key.buffer, '-', '+', 'COUNT', 1)) as [
      string,
      string[],
    ][];
    if (!first) return 0;
    return Math.max(0, this.clock.nowMs() - Number(first[0].split('-')[0]));
  }
}

/** The buffer's Redis keys, for the dead-letter administration (turn-dead-letters.ts). */
export const TURN_BUFFER_KEYS = key;
