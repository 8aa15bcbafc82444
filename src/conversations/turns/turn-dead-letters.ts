import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { compareStreamIds } from '../../core/sse/stream-ids';
import { InjectRedis } from '../../core/redis/redis.module';
import { TurnBuffer, TurnKeys } from './turn-buffer';
import { TurnRecord } from './turn-record';

export interface DeadLetter {
  /**
   * The dead-letter stream entry's id (its ms part is when it was dead-lettered); on a
   * Redis Cluster, where each buffer shard has its own dead-letter stream, `<shard>.<id>`.
   */
  id: string;
  conversationId: string;
  reason: string;
  deadLetteredAt: Date;
  turn: TurnRecord;
  /** The turn's JSON exactly as buffered (the member of its pending set). */
  raw: string;
}

type Entry = [string, string[]];

/**
 * Atomically: remove the dead letter and, only if it was still there (a concurrent replay
 * did not take it), buffer it again. Exactly one replay of an entry re-buffers it.
 */
const REPLAY_SCRIPT = `
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'c', ARGV[2], 'turn', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
`;

/** A listed id: which shard's stream, and the entry's id there. */
function locate(id: string): { shard: number; streamId: string } {
  const dot = id.indexOf('.');
  return dot < 0
    ? { shard: 0, streamId: id }
    : { shard: Number(id.slice(0, dot)), streamId: id.slice(dot + 1) };
}

function parse(shard: number, keys: TurnKeys, [streamId, fields]: Entry): DeadLetter | null {
  const id = keys.shards === 1 ? streamId : `${shard}.${streamId}`;
  // A dead-lettered revision (field `rev`, see TurnBuffer.deadLetter) has no `turn`: not listed.
  const value = (name: string): string | undefined => {
    const at = fields.indexOf(name);
    return at < 0 ? undefined : fields[at + 1];
  };
  const raw = value('turn');
  if (!raw) return null;
  return {
    id,
    conversationId: value('c') ?? '',
    reason: value('reason') ?? '',
    deadLetteredAt: new Date(Number(streamId.split('-')[0])),
    turn: JSON.parse(raw) as TurnRecord,
    raw,
  };
}

/**
 * Turns the database refused (SPEC section 12): listed for `queues:admin` holders and put
 * back into the buffer on request, after the cause is fixed. A replayed turn goes through
 * the normal persistence path, so persisting it twice is impossible (the insert ignores a
 * turn already stored) and a turn refused again is dead-lettered again with the new reason.
 */
@Injectable()
export class TurnDeadLetters {
  private readonly keys: TurnKeys;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    buffer: TurnBuffer,
  ) {
    this.keys = buffer.keys;
  }

  /** Oldest first across the shards' streams, after `after` (an id as listed). */
  async list(after: string | undefined, limit: number): Promise<DeadLetter[]> {
    const cursor = after === undefined ? undefined : locate(after);
    const perShard = await Promise.all(
      this.keys.allShards().map(async (shard) => {
        // Ordered by (stream id, shard): a later shard may hold the cursor's own id.
        const start =
          cursor === undefined
            ? '-'
            : shard > cursor.shard
              ? cursor.streamId
              : `(${cursor.streamId}`;
        const entries = (await this.redis.xrange(
          this.keys.dead(shard),
          start,
          '+',
          'COUNT',
          limit,
        )) as Entry[];
        return entries.map((entry) => ({ shard, entry }));
      }),
    );
    return perShard
      .flat()
      .sort((a, b) => compareStreamIds(a.entry[0], b.entry[0]) || a.shard - b.shard)
      .slice(0, limit)
      .map(({ shard, entry }) => parse(shard, this.keys, entry))
      .filter((entry): entry is DeadLetter => entry !== null);
  }

  async count(): Promise<number> {
    const counts = await Promise.all(
      this.keys.allShards().map((shard) => this.redis.xlen(this.keys.dead(shard))),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /**
   * Moves the given entries (or the oldest `limit` when none are named) back into their
   * shard's buffer and the conversation's pending set, one script per entry (its keys
   * share the shard's slot), so an entry is either still dead-lettered or buffered again,
   * never neither nor both. Returns those replayed.
   */
  async replay(ids: string[] | undefined, limit: number): Promise<DeadLetter[]> {
    const letters = ids
      ? (
          await Promise.all(
            ids.map(async (id) => {
              const { shard, streamId } = locate(id);
              if (!Number.isInteger(shard) || shard >= this.keys.shards) return null;
              const [entry] = (await this.redis.xrange(
                this.keys.dead(shard),
                streamId,
                streamId,
              )) as Entry[];
              return entry ? parse(shard, this.keys, entry) : null;
            }),
          )
        ).filter((letter): letter is DeadLetter => letter !== null)
      : await this.list(undefined, limit);
    const replayed: DeadLetter[] = [];
    for (const letter of letters) {
      const { shard, streamId } = locate(letter.id);
      const moved = (await this.redis.eval(
        REPLAY_SCRIPT,
        3,
        this.keys.dead(shard),
        this.keys.buffer(shard),
        this.keys.pending(letter.conversationId),
        streamId,
        letter.conversationId,
        letter.raw,
        letter.turn.messageNumber,
      )) as number;
      if (moved === 1) replayed.push(letter);
    }
    return replayed;
  }
}
