import { Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { InjectRedis } from '../../core/redis/redis.module';
import { TURN_BUFFER_KEYS as key } from './turn-buffer';
import { TurnRecord } from './turn-record';

export interface DeadLetter {
  /** The dead-letter stream id; also when it was dead-lettered (its ms part). */
  id: string;
  conversationId: string;
  reason: string;
  deadLetteredAt: Date;
  turn: TurnRecord;
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

function parse([id, fields]: Entry): DeadLetter | null {
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
    deadLetteredAt: new Date(Number(id.split('-')[0])),
    turn: JSON.parse(raw) as TurnRecord,
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
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async list(after: string | undefined, limit: number): Promise<DeadLetter[]> {
    const entries = (await this.redis.xrange(
      key.dead,
      after ? `(${after}` : '-',
      '+',
      'COUNT',
      limit,
    )) as Entry[];
    return entries.map(parse).filter((entry): entry is DeadLetter => entry !== null);
  }

  count(): Promise<number> {
    return this.redis.xlen(key.dead);
  }

  /**
   * Moves the given entries (or the oldest `limit` when none are named) back into the
   * buffer and the conversation's pending set, one script per entry, so an entry is either
   * still dead-lettered or buffered again, never neither nor both. Returns those replayed.
   */
  async replay(ids: string[] | undefined, limit: number): Promise<DeadLetter[]> {
    const entries = ids
      ? (
          await Promise.all(
            ids.map(async (id) => (await this.redis.xrange(key.dead, id, id)) as Entry[]),
          )
        ).flat()
      : ((await this.redis.xrange(key.dead, '-', '+', 'COUNT', limit)) as Entry[]);
    const replayed: DeadLetter[] = [];
    for (const entry of entries) {
      const letter = parse(entry);
      if (!letter) continue;
      const raw = entry[1][entry[1].indexOf('turn') + 1]!;
      const moved = (await this.redis.eval(
        REPLAY_SCRIPT,
        3,
        key.dead,
        key.buffer,
        key.pending(letter.conversationId),
        letter.id,
        letter.conversationId,
        raw,
        letter.turn.messageNumber,
      )) as number;
      if (moved === 1) replayed.push(letter);
    }
    return replayed;
  }
}
