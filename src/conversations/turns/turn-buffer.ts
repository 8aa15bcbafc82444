import { Injectable, OnModuleInit } from '@nestjs/common';
import Redis, { ChainableCommander } from 'ioredis';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import { isCluster } from '../../core/redis/redis-options';
import { InjectRedis } from '../../core/redis/redis.module';
import { RevisedTurn, RevisionRecord, TurnRecord } from './turn-record';

/** Name of the consumer group of persistence workers on the buffer stream. */
export const PERSISTERS_GROUP = 'persisters';

/** FNV-1a of a string: the conversation's buffer shard (and persisting lane), stable across processes. */
export function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Where the pipeline's keys live. On one Redis server: one shard and the historical,
 * untagged names. On a Redis Cluster: `shards` durable buffers, `turns:{t<n>}:buffer`,
 * and each conversation's keys carry its shard's hash tag (`conv:{t<n>}:<id>:…`), so
 * every script and MULTI touches one slot while conversations spread over the cluster.
 */
export class TurnKeys {
  readonly shards: number;

  constructor(
    private readonly tagged: boolean,
    shards: number,
  ) {
    this.shards = tagged ? shards : 1;
  }

  shardOf(conversationId: string): number {
    return this.shards === 1 ? 0 : fnv1a(conversationId) % this.shards;
  }

  private tag(shard: number): string {
    return this.tagged ? `{t${shard}}:` : '';
  }

  private conversation(id: string, name: string): string {
    return `conv:${this.tag(this.shardOf(id))}${id}:${name}`;
  }

  /** One bit per messageNumber already accepted: the duplicate detector. */
  seen = (id: string): string => this.conversation(id, 'seen');
  /** Accepted but not yet persisted turns, scored by messageNumber (read-your-writes). */
  pending = (id: string): string => this.conversation(id, 'pending');
  /** The live window, scored by spokenAt (ms), trimmed to the TTL. */
  live = (id: string): string => this.conversation(id, 'live');
  /** Recent arrivals in order, for Server-Sent Events and their resumption. */
  events = (id: string): string => this.conversation(id, 'events');
  /**
   * Revisions: `<n>` is turn n's latest revision number (the counter every PATCH
   * compare-and-sets), `<n>:t` the turn as that revision made it, kept until it is
   * persisted (then reads take it from Postgres).
   */
  revs = (id: string): string => this.conversation(id, 'revs');
  /** Revisions accepted but not yet persisted, scored by messageNumber (history reads, seal wait). */
  revPending = (id: string): string => this.conversation(id, 'revpending');
  /** Present for a second after a `conversation.updated` event: the throttle. */
  updatedThrottle = (id: string): string => this.conversation(id, 'updated');
  /** Set when the conversation ended: the script refuses further turns atomically. */
  closed = (id: string): string => this.conversation(id, 'closed');
  /** A durable buffer every worker drains: a stream with a consumer group. */
  buffer = (shard: number): string => `turns:${this.tag(shard)}buffer`;
  /** Turns the database refused, kept with the reason for an operator; never trimmed. */
  dead = (shard: number): string => `turns:${this.tag(shard)}dead`;
  bufferOf = (conversationId: string): string => this.buffer(this.shardOf(conversationId));

  allShards(): number[] {
    return Array.from({ length: this.shards }, (_, shard) => shard);
  }
}

/**
 * Accepts a batch atomically: for each turn not seen before, mark it seen, add it to
 * the pending set, the live window and the event stream; then one durable buffer entry
 * holds every turn accepted (`n`: their messageNumbers, `turns`: a JSON array of them),
 * not one entry per turn. Most of the script's cost was per call: the seen bits are set
 * by one BITFIELD (its replies are the bits as they were, in order, so a number twice in
 * one batch is a duplicate the second time) and each sorted set gets every new turn in
 * one ZADD; only the event stream takes one XADD per turn (one event each).
 * The script runs whole or not at all, so a turn is never marked seen without being
 * buffered (which would drop it on a retry).
 * Returns {accepted, duplicates}, or {-1, 0} when the conversation has ended.
 */
const INGEST_SCRIPT = `
if redis.call('EXISTS', KEYS[6]) == 1 then return {-1, 0} end
local ttl = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local conversation = ARGV[3]
local count = tonumber(ARGV[4])
local bits = {}
for i = 0, count - 1 do
  bits[i * 4 + 1] = 'SET'
  bits[i * 4 + 2] = 'u1'
  bits[i * 4 + 3] = ARGV[5 + i * 3]
  bits[i * 4 + 4] = 1
end
local before = redis.call('BITFIELD', KEYS[1], unpack(bits))
local accepted, duplicates = 0, 0
local numbers, turns, pending, live = {}, {}, {}, {}
for i = 0, count - 1 do
  if before[i + 1] == 0 then
    local number, turn = ARGV[5 + i * 3], ARGV[7 + i * 3]
    accepted = accepted + 1
    numbers[accepted] = number
    turns[accepted] = turn
    pending[accepted * 2 - 1] = number
    pending[accepted * 2] = turn
    live[accepted * 2 - 1] = ARGV[6 + i * 3]
    live[accepted * 2] = turn
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'turn', turn)
  else
    duplicates = duplicates + 1
  end
end
if accepted > 0 then
  redis.call('ZADD', KEYS[2], unpack(pending))
  redis.call('ZADD', KEYS[3], unpack(live))
  redis.call('XADD', KEYS[5], '*', 'c', conversation, 'n', table.concat(numbers, ','),
    'turns', '[' .. table.concat(turns, ',') .. ']')
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ttl * 1000)
return {accepted, duplicates}
`;

/**
 * Accepts one revision of turn ARGV[1], computed by the API from revision ARGV[2]:
 * refused (-1) once the conversation has ended, refused (-2) when another revision got
 * in first (the caller re-reads and retries, or answers 412 under If-Match). Otherwise
 * the counter moves to ARGV[2] + 1, the revision goes to the durable buffer like a turn,
 * and the answer is { revision, 1 if the turn is still buffered else 0 }. If the turn
 * itself is still buffered (its member in the pending set), the entry carries it, so
 * the worker that persists the revision inserts the turn first (ON CONFLICT DO NOTHING)
 * and never updates a row that is not there yet. A turn no longer pending was
 * acknowledged, which happens only after its row committed.
 * An absent counter means no revision is buffered or recent: the caller's read of the
 * turn is then current, so ARGV[2] is trusted. ARGV[7] names a base that is no read
 * (RevisionBaseKind): 'revision', the API's memory of a revision it made, which only a
 * present counter can confirm; 'ingested', the turn as this process accepted it, which is
 * revision 1 while the turn is still buffered. Once it left the buffer unrevised, the
 * answer is {-3}: it is persisted, or refused by the database and dead-lettered, and
 * its row (or none) tells which.
 */
const REVISE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local expected = tonumber(ARGV[2])
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored and ARGV[7] == 'revision' then return {-2} end
local current = tonumber(stored or expected)
if current ~= expected then return {-2} end
local pending = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if not pending[1] and ARGV[7] == 'ingested' then return {-3} end
redis.call('HSET', KEYS[2], ARGV[1], current + 1, ARGV[1] .. ':t', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[4], tonumber(ARGV[1]), ARGV[4])
redis.call('XADD', KEYS[5], '*', 'c', ARGV[5], 'rev', ARGV[4], 'turn', pending[1] or '')
redis.call('XADD', KEYS[6], 'MAXLEN', '~', 10000, '*', 'revised', ARGV[3])
return {current + 1, pending[1] and 1 or 0}
`;

/**
 * After a revision committed: forget the buffered copy of the turn unless a newer
 * revision replaced it meanwhile (that one's own acknowledgement will). The counter stays.
 */
const FORGET_REVISED_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1] .. ':t')
end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`;

/**
 * Adds a `conversation.updated` event (ARGV[1], the counters) to the conversation's
 * event stream unless one was added in the last ARGV[2] ms.
 */
const UPDATED_SCRIPT = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*', 'updated', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** At most one `conversation.updated` per conversation per this many ms (SPEC section 10). */
const UPDATED_EVERY_MS = 1000;

/** How long a turn's revision counter outlives its last revision (see README). */
const REVISION_COUNTER_TTL_SECONDS = 7 * 86400;

/**
 * One turn. Since ingestion buffers a request's turns as one entry (BufferedTurnsEntry),
 * only turns put back from the dead letters, and entries buffered before that, are so.
 */
export interface BufferedTurnEntry {
  kind: 'turn';
  streamId: string;
  conversationId: string;
  raw: string;
  /** `raw` parsed (on each read: the persisting path never needs it). */
  readonly turn: TurnRecord;
}

/** The turns one ingest call accepted, in request order. */
export interface BufferedTurnsEntry {
  kind: 'turns';
  streamId: string;
  conversationId: string;
  /** Their messageNumbers (their scores in the pending set), in the order of `raw`. */
  numbers: number[];
  /** A JSON array of the turns; each element's JSON is its member in the pending set. */
  raw: string;
}

export interface BufferedRevisionEntry {
  kind: 'revision';
  streamId: string;
  conversationId: string;
  /** The revision's JSON as buffered (its member in the revpending set). */
  raw: string;
  revision: RevisionRecord;
  /** The turn, when it was still buffered as the revision was accepted. */
  turn: TurnRecord | null;
}

export type BufferedEntry = BufferedTurnEntry | BufferedTurnsEntry | BufferedRevisionEntry;

/** How many turns (or revisions) an entry holds: what batch sizes count. */
export function entrySize(entry: BufferedEntry): number {
  return entry.kind === 'turns' ? entry.numbers.length : 1;
}

/** Sorted messageNumbers as [first, last] runs of consecutive numbers. */
function runsOf(numbers: number[]): [number, number][] {
  const sorted = [...numbers].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const n of sorted) {
    const last = runs[runs.length - 1];
    if (last && n <= last[1] + 1) last[1] = Math.max(last[1], n);
    else runs.push([n, n]);
  }
  return runs;
}

/** What the buffer knows of one turn, for computing its next revision. */
export interface RevisionBase {
  /** The latest revision number, when a revision was made in the last days. */
  revision: number | null;
  /** The turn as its latest revision made it, while that revision is not persisted. */
  latest: RevisedTurn | null;
  /** The turn's pending member, while the turn itself is not persisted. */
  pendingRaw: string | null;
}

/** Where the API took the turn a revision builds on (see REVISE_SCRIPT). */
export type RevisionBaseKind = 'read' | 'revision' | 'ingested';

/**
 * A revision accepted (its number, and whether its turn was still buffered then), or why
 * not: the conversation ended, another revision got in first, or the turn as ingested
 * left the buffer before any revision (`unbuffered`: read its row).
 */
export type ReviseOutcome =
  { revision: number; buffered: boolean } | 'closed' | 'conflict' | 'unbuffered';

type StreamReply = [string, [string, string[]][]][] | null;

function parseEntries(entries: [string, string[]][]): BufferedEntry[] {
  return entries.flatMap(([streamId, fields]): BufferedEntry[] => {
    // A deleted-but-pending entry comes back with no fields; it has nothing to persist.
    if (!fields || fields.length < 4) return [];
    const conversationId = fields[1]!;
    const raw = fields[3]!;
    if (fields[2] === 'n') {
      return [
        {
          kind: 'turns',
          streamId,
          conversationId,
          numbers: raw.split(',').map(Number),
          raw: fields[5] ?? '[]',
        },
      ];
    }
    if (fields[2] === 'rev') {
      const turnRaw = fields[5] ?? '';
      return [
        {
          kind: 'revision',
          streamId,
          conversationId,
          raw,
          revision: JSON.parse(raw) as RevisionRecord,
          turn: turnRaw ? (JSON.parse(turnRaw) as TurnRecord) : null,
        },
      ];
    }
    // Parsed only when asked: the worker stores `raw` as it is.
    return [
      {
        kind: 'turn',
        streamId,
        conversationId,
        raw,
        get turn() {
          return JSON.parse(raw) as TurnRecord;
        },
      },
    ];
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
  readonly keys: TurnKeys;
  /** The shard the next read starts at: every shard gets its turn. */
  private nextShard = 0;
  /** Shards' entries read by readNew but not yet handed out (see readNew). */
  private heldBack: BufferedEntry[][] = [];
  /** Turns per entry in recent reads: how many entries to ask for to get `count` turns. */
  private turnsPerEntry = 1;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.ttlSeconds = config.get('LIVE_WINDOW_TTL_SECONDS');
    this.keys = new TurnKeys(
      isCluster({ clusterNodes: config.get('REDIS_CLUSTER_NODES') }),
      config.get('TURN_BUFFER_SHARDS'),
    );
    this.redis.defineCommand('ingestTurns', { numberOfKeys: 6, lua: INGEST_SCRIPT });
    this.redis.defineCommand('reviseTurn', { numberOfKeys: 6, lua: REVISE_SCRIPT });
    this.redis.defineCommand('forgetRevised', { numberOfKeys: 2, lua: FORGET_REVISED_SCRIPT });
    this.redis.defineCommand('publishUpdated', { numberOfKeys: 2, lua: UPDATED_SCRIPT });
  }

  async onModuleInit(): Promise<void> {
    for (const shard of this.keys.allShards()) await this.ensureGroup(shard);
  }

  private async ensureGroup(shard: number): Promise<void> {
    try {
      // ioredis does not apply keyPrefix to XGROUP's key (it follows a subcommand): add it here.
      const prefixed = `${this.redis.options.keyPrefix ?? ''}${this.keys.buffer(shard)}`;
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
      this.keys.seen(conversationId),
      this.keys.pending(conversationId),
      this.keys.live(conversationId),
      this.keys.events(conversationId),
      this.keys.bufferOf(conversationId),
      this.keys.closed(conversationId),
      ...args,
    );
    return accepted < 0 ? 'closed' : { accepted, duplicates };
  }

  // --- revisions -------------------------------------------------------------------

  /** One round trip: the turn's revision counter, its buffered latest form, its pending member. */
  async revisionBase(conversationId: string, messageNumber: number): Promise<RevisionBase> {
    const [[, revision], [, latest], [, pending]] = (await this.redis
      .multi()
      .hget(this.keys.revs(conversationId), String(messageNumber))
      .hget(this.keys.revs(conversationId), `${messageNumber}:t`)
      .zrangebyscore(this.keys.pending(conversationId), messageNumber, messageNumber, 'LIMIT', 0, 1)
      .exec()) as [[null, string | null], [null, string | null], [null, string[]]];
    return {
      revision: revision === null ? null : Number(revision),
      latest: latest ? (JSON.parse(latest) as RevisedTurn) : null,
      pendingRaw: pending[0] ?? null,
    };
  }

  /**
   * Compare-and-set of turn `revision.messageNumber` from `revision.revision - 1` to
   * `revision.revision` (REVISE_SCRIPT); `next` is the turn as the revision makes it.
   * `base`: where the revision's base came from, which decides what the script checks.
   */
  async revise(
    revision: RevisionRecord,
    next: RevisedTurn,
    base: RevisionBaseKind = 'read',
  ): Promise<ReviseOutcome> {
    const { conversationId, messageNumber } = revision;
    const run = (
      this.redis as unknown as Record<
        'reviseTurn',
        (...a: (string | number)[]) => Promise<[number, number?]>
      >
    ).reviseTurn;
    const [result, buffered] = await run.call(
      this.redis,
      this.keys.closed(conversationId),
      this.keys.revs(conversationId),
      this.keys.pending(conversationId),
      this.keys.revPending(conversationId),
      this.keys.bufferOf(conversationId),
      this.keys.events(conversationId),
      messageNumber,
      revision.revision - 1,
      JSON.stringify(next),
      JSON.stringify(revision),
      conversationId,
      REVISION_COUNTER_TTL_SECONDS,
      base,
    );
    if (result === -1) return 'closed';
    if (result === -2) return 'conflict';
    if (result === -3) return 'unbuffered';
    return { revision: result, buffered: buffered === 1 };
  }

  /** The buffered (not yet persisted) form of these turns, by messageNumber. */
  async revisedTurns(
    conversationId: string,
    messageNumbers: number[],
  ): Promise<Map<number, RevisedTurn>> {
    const found = new Map<number, RevisedTurn>();
    if (messageNumbers.length === 0) return found;
    const raws = await this.redis.hmget(
      this.keys.revs(conversationId),
      ...messageNumbers.map((n) => `${n}:t`),
    );
    raws.forEach((raw, i) => {
      if (raw) found.set(messageNumbers[i]!, JSON.parse(raw) as RevisedTurn);
    });
    return found;
  }

  /**
   * Turns with messageNumber > after whose latest revision is not persisted yet, as that
   * revision made them (a filtered list must find a turn a buffered revision made match).
   */
  async revisedAfter(conversationId: string, after: number): Promise<RevisedTurn[]> {
    const revisions = await this.redis.zrangebyscore(
      this.keys.revPending(conversationId),
      `(${after}`,
      '+inf',
      'WITHSCORES',
    );
    const numbers = new Set<number>();
    for (let i = 1; i < revisions.length; i += 2) numbers.add(Number(revisions[i]));
    return [...(await this.revisedTurns(conversationId, [...numbers])).values()];
  }

  /** Revisions of one turn accepted but not yet persisted. */
  async pendingRevisions(conversationId: string, messageNumber: number): Promise<RevisionRecord[]> {
    const raws = await this.redis.zrangebyscore(
      this.keys.revPending(conversationId),
      messageNumber,
      messageNumber,
    );
    return raws.map((raw) => JSON.parse(raw) as RevisionRecord);
  }

  // --- conversation events -------------------------------------------------------------

  /**
   * `conversation.updated` for each conversation a batch moved, throttled per conversation.
   * One script each, not one pipeline: on a cluster the conversations live on any master.
   */
  async publishUpdated<T extends { conversationId: string }>(counters: T[]): Promise<void> {
    const run = (
      this.redis as unknown as Record<
        'publishUpdated',
        (...a: (string | number)[]) => Promise<number>
      >
    ).publishUpdated;
    await Promise.all(
      counters.map(({ conversationId, ...data }) =>
        run.call(
          this.redis,
          this.keys.events(conversationId),
          this.keys.updatedThrottle(conversationId),
          JSON.stringify(data),
          UPDATED_EVERY_MS,
          this.ttlSeconds,
        ),
      ),
    );
  }

  /** `conversation.ended` with the seal, after the conversation was sealed. */
  async publishEnded(conversationId: string, sealHash: string | null): Promise<void> {
    await this.redis
      .multi()
      .xadd(
        this.keys.events(conversationId),
        'MAXLEN',
        '~',
        10000,
        '*',
        'ended',
        JSON.stringify({ sealHash }),
      )
      .expire(this.keys.events(conversationId), this.ttlSeconds)
      .exec();
  }

  async markClosed(conversationId: string): Promise<void> {
    await this.redis.set(this.keys.closed(conversationId), '1', 'EX', 7 * 86400);
  }

  async reopen(conversationId: string): Promise<void> {
    await this.redis.del(this.keys.closed(conversationId));
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
      this.keys.pending(conversationId),
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
      this.keys.pending(conversationId),
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
    const flat = await this.redis.zrange(this.keys.pending(conversationId), 0, -1, 'WITHSCORES');
    const numbers: number[] = [];
    for (let i = 1; i < flat.length; i += 2) numbers.push(Number(flat[i]));
    return numbers;
  }

  /** Turns and revisions accepted but not yet persisted (a seal waits for both). */
  async pendingCount(conversationId: string): Promise<number> {
    const [[, turns], [, revisions]] = (await this.redis
      .multi()
      .zcard(this.keys.pending(conversationId))
      .zcard(this.keys.revPending(conversationId))
      .exec()) as [[null, number], [null, number]];
    return turns + revisions;
  }

  /** Turns spoken since `sinceMs`, or null when the conversation has no live window. */
  async liveSince(conversationId: string, sinceMs: number): Promise<TurnRecord[] | null> {
    const [[, exists], [, raws]] = (await this.redis
      .multi()
      .exists(this.keys.live(conversationId))
      .zrangebyscore(this.keys.live(conversationId), sinceMs, '+inf')
      .exec()) as [[null, number], [null, string[]]];
    return exists ? raws.map((raw) => JSON.parse(raw) as TurnRecord) : null;
  }

  /**
   * The Redis stream of a conversation's arrivals (`turn` field = the TurnRecord JSON),
   * which live subscribers follow through the shared reader (src/core/sse).
   */
  eventsKey(conversationId: string): string {
    return this.keys.events(conversationId);
  }

  // --- draining (workers) -----------------------------------------------------------

  /** Takes over entries that a dead consumer has held longer than `idleMs`, in every shard. */
  async reclaim(consumer: string, idleMs: number, count: number): Promise<number> {
    let claimed = 0;
    for (const shard of this.keys.allShards()) {
      let cursor = '0-0';
      let inShard = 0;
      do {
        const [next, entries] = await this.inGroup(
          shard,
          () =>
            this.redis.xautoclaim(
              this.keys.buffer(shard),
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
        inShard += entries.length;
        cursor = next;
      } while (cursor !== '0-0' && inShard < count * 10);
      claimed += inShard;
    }
    return claimed;
  }

  /**
   * Entries delivered to this consumer and not yet acknowledged (after a failure or a
   * reclaim). Like readNew, every shard at once. Whatever readNew held back is among
   * them, so the held-back entries are dropped: each is delivered once.
   */
  readOwnPending(consumer: string, count: number): Promise<BufferedEntry[]> {
    this.heldBack = [];
    return this.readShards(consumer, count, '0');
  }

  /**
   * New entries: the ones an earlier read held back first, else every shard read at once
   * (one round trip whatever the number of shards; on a cluster they live on different
   * masters, which answer in parallel). Shards are taken in a rotating order, entry by
   * entry, until `count` turns are reached; the rest wait in memory for the next call.
   * They are this consumer's pending entries already, so a crash leaves them to reclaim
   * like any other. Each read asks for about `count` turns' worth of entries (an entry
   * holds a request's turns), so what waits stays small.
   */
  async readNew(consumer: string, count: number): Promise<BufferedEntry[]> {
    if (this.heldBack.length === 0) this.heldBack = await this.readAllShards(consumer, count, '>');
    return this.takeHeldBack(count);
  }

  /** Own pending entries of every shard at once, taken like readNew's. */
  private async readShards(
    consumer: string,
    count: number,
    from: '0' | '>',
  ): Promise<BufferedEntry[]> {
    this.heldBack = await this.readAllShards(consumer, count, from);
    return this.takeHeldBack(count);
  }

  /** Every shard's reply (non-empty ones only), from the rotating start shard on. */
  private async readAllShards(
    consumer: string,
    count: number,
    from: '0' | '>',
  ): Promise<BufferedEntry[][]> {
    const start = this.nextShard;
    this.nextShard = (this.nextShard + 1) % this.keys.shards;
    const order = this.keys.allShards().map((i) => (start + i) % this.keys.shards);
    const entries = Math.max(1, Math.min(count, Math.ceil(count / this.turnsPerEntry)));
    const replies = await Promise.all(
      order.map((shard) => this.readGroup(shard, consumer, entries, from)),
    );
    const read = replies.flat();
    if (read.length > 0)
      this.turnsPerEntry = read.reduce((sum, e) => sum + entrySize(e), 0) / read.length;
    return replies.filter((shardEntries) => shardEntries.length > 0);
  }

  /** Entries from the held-back replies, in order, until `count` turns are reached. */
  private takeHeldBack(count: number): BufferedEntry[] {
    const taken: BufferedEntry[] = [];
    let turns = 0;
    while (this.heldBack.length > 0 && turns < count) {
      const shard = this.heldBack[0]!;
      const entry = shard.shift()!;
      if (shard.length === 0) this.heldBack.shift();
      taken.push(entry);
      turns += entrySize(entry);
    }
    return taken;
  }

  /** `from` is `0` for this consumer's own pending entries, `>` for entries nobody has had. */
  private async readGroup(
    shard: number,
    consumer: string,
    count: number,
    from: '0' | '>',
  ): Promise<BufferedEntry[]> {
    const reply = await this.inGroup(
      shard,
      () =>
        this.redis.xreadgroup(
          'GROUP',
          PERSISTERS_GROUP,
          consumer,
          'COUNT',
          count,
          'STREAMS',
          this.keys.buffer(shard),
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
  private async inGroup<T>(shard: number, command: () => Promise<T>, empty: T): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOGROUP')) throw error;
      await this.ensureGroup(shard);
      return empty;
    }
  }

  /** After the rows are committed: drop the entries from the buffer and the pending sets. */
  async acknowledge(entries: BufferedEntry[]): Promise<void> {
    const byShard = new Map<number, BufferedEntry[]>();
    for (const entry of entries) {
      const shard = this.keys.shardOf(entry.conversationId);
      byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
    }
    // One pipeline per shard: its keys share the shard's slot on a cluster.
    await Promise.all(
      [...byShard].map(([shard, ofShard]) => this.acknowledgeShard(shard, ofShard)),
    );
  }

  private async acknowledgeShard(shard: number, entries: BufferedEntry[]): Promise<void> {
    const ids = entries.map((e) => e.streamId);
    const pipeline = this.redis
      .pipeline()
      .xack(this.keys.buffer(shard), PERSISTERS_GROUP, ...ids)
      .xdel(this.keys.buffer(shard), ...ids);
    const raws = new Map<string, string[]>();
    const numbers = new Map<string, number[]>();
    for (const entry of entries) {
      if (entry.kind === 'revision') {
        this.forgetRevised(pipeline, entry);
      } else if (entry.kind === 'turns') {
        const list = numbers.get(entry.conversationId) ?? [];
        list.push(...entry.numbers);
        numbers.set(entry.conversationId, list);
      } else {
        const list = raws.get(entry.conversationId) ?? [];
        list.push(entry.raw);
        raws.set(entry.conversationId, list);
      }
    }
    for (const [conversationId, members] of raws)
      pipeline.zrem(this.keys.pending(conversationId), ...members);
    for (const [conversationId, persisted] of numbers)
      this.forgetPending(pipeline, conversationId, persisted);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /**
   * Takes turns out of the pending set by messageNumber (its score), a range per run of
   * consecutive numbers, rather than by member: the worker then never sends the turns'
   * JSON back to Redis. Each number is pending once: the `seen` bit refuses a second turn
   * with it (once that bit expired, the database keeps the first turn and refuses the
   * later one, whose pending member then goes with the first's).
   */
  private forgetPending(
    pipeline: ChainableCommander,
    conversationId: string,
    numbers: number[],
  ): void {
    for (const [first, last] of runsOf(numbers))
      pipeline.zremrangebyscore(this.keys.pending(conversationId), first, last);
  }

  private forgetRevised(pipeline: ChainableCommander, entry: BufferedRevisionEntry): void {
    const { conversationId, messageNumber, revision } = entry.revision;
    (
      pipeline as unknown as Record<
        'forgetRevised',
        (...a: (string | number)[]) => ChainableCommander
      >
    ).forgetRevised(
      this.keys.revs(conversationId),
      this.keys.revPending(conversationId),
      String(messageNumber),
      String(revision),
      entry.raw,
    );
  }

  /**
   * Moves one entry the database refuses to the dead-letter stream (with the reason) and
   * acknowledges it, atomically, so it is neither lost nor retried for ever.
   */
  async deadLetter(
    entry: BufferedTurnEntry | BufferedRevisionEntry,
    reason: string,
  ): Promise<void> {
    const shard = this.keys.shardOf(entry.conversationId);
    const multi = this.redis
      .multi()
      .xadd(
        this.keys.dead(shard),
        '*',
        'c',
        entry.conversationId,
        entry.kind === 'revision' ? 'rev' : 'turn',
        entry.raw,
        'reason',
        reason.slice(0, 500),
      )
      .xack(this.keys.buffer(shard), PERSISTERS_GROUP, entry.streamId)
      .xdel(this.keys.buffer(shard), entry.streamId);
    // A refused revision leaves the seal's wait, but its turn keeps the revised form in
    // Redis (`n:t`): reads and the next PATCH start from it, not from the older row.
    if (entry.kind === 'revision')
      multi.zrem(this.keys.revPending(entry.conversationId), entry.raw);
    else multi.zrem(this.keys.pending(entry.conversationId), entry.raw);
    await this.execOrThrow(multi);
  }

  /**
   * After the turns of `entry` the database accepted are stored: each refused turn (its
   * JSON and the reason) goes to the dead-letter stream, and the entry is acknowledged,
   * all of it or nothing (MULTI), so a refused turn is dead-lettered exactly once and
   * an accepted one is never dropped.
   */
  async deadLetterTurns(
    entry: BufferedTurnsEntry,
    refused: { raw: string; reason: string }[],
  ): Promise<void> {
    const shard = this.keys.shardOf(entry.conversationId);
    const multi = this.redis.multi();
    for (const { raw, reason } of refused)
      multi.xadd(
        this.keys.dead(shard),
        '*',
        'c',
        entry.conversationId,
        'turn',
        raw,
        'reason',
        reason.slice(0, 500),
      );
    multi
      .xack(this.keys.buffer(shard), PERSISTERS_GROUP, entry.streamId)
      .xdel(this.keys.buffer(shard), entry.streamId);
    this.forgetPending(multi, entry.conversationId, entry.numbers);
    await this.execOrThrow(multi);
  }

  private async execOrThrow(multi: ChainableCommander): Promise<void> {
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async deadLetterCount(): Promise<number> {
    const counts = await Promise.all(
      this.keys.allShards().map((shard) => this.redis.xlen(this.keys.dead(shard))),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** Entries waiting in the buffers: delivered-but-unacknowledged plus never delivered. */
  async backlog(): Promise<{ length: number; pending: number }> {
    const shards = await Promise.all(
      this.keys.allShards().map(async (shard) => {
        const [[, length], [, summary]] = (await this.redis
          .multi()
          .xlen(this.keys.buffer(shard))
          .xpending(this.keys.buffer(shard), PERSISTERS_GROUP)
          .exec()) as [[null, number], [null, [number, ...unknown[]]]];
        return { length, pending: Number(summary?.[0] ?? 0) };
      }),
    );
    return shards.reduce(
      (sum, s) => ({ length: sum.length + s.length, pending: sum.pending + s.pending }),
      { length: 0, pending: 0 },
    );
  }

  /** Age in ms of the oldest entry still in any buffer (0 when empty): the persistence lag. */
  async oldestAgeMs(): Promise<number> {
    const firsts = await Promise.all(
      this.keys
        .allShards()
        .map(
          async (shard) =>
            (
              (await this.redis.xrange(this.keys.buffer(shard), '-', '+', 'COUNT', 1)) as [
                string,
                string[],
              ][]
            )[0],
        ),
    );
    const oldest = Math.min(
      ...firsts.filter((f) => f !== undefined).map((f) => Number(f[0].split('-')[0])),
    );
    return Number.isFinite(oldest) ? Math.max(0, this.clock.nowMs() - oldest) : 0;
  }
}
