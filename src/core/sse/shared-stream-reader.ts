import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { AppConfig } from '../config/app-config';
import { duplicateClient } from '../redis/redis-options';
import { InjectRedis } from '../redis/redis.module';
import { compareStreamIds } from './stream-ids';

export interface StreamEntry {
  id: string;
  fields: string[];
}

interface Follower {
  /** Id of the last entry it was given: it gets only later ones. */
  cursor: string;
  deliver(entry: StreamEntry): void;
  complete(): void;
}

type XReadReply = [string, [string, string[]][]][] | null;

/** How long one XREAD waits when nothing arrives (a wake-up interrupts it sooner). */
const BLOCK_MS = 10_000;
const RETRY_MS = 500;
const ENTRIES_PER_READ = 500;

/**
 * One lane of the shared reader: the streams of one hash slot (or all, off a cluster).
 * Follows Redis streams for every live response of this process over ONE connection
 * (F6): a single loop runs a blocking XREAD over all the streams someone follows, from
 * the oldest cursor among each stream's followers, and hands each follower the entries
 * after its own cursor. Resuming from an older id (Last-Event-ID) lowers that stream's
 * read point; the others skip what they already had.
 *
 * A blocking XREAD cannot be told about a new stream to watch, so the loop also reads a
 * private wake-up stream; following a new stream (or from an older point) XADDs to it,
 * which ends the current XREAD at once. While Redis is unreachable the loop retries and
 * the followers wait; nothing is lost as their cursors are kept.
 */
class StreamLane {
  private readonly logger = new Logger(SharedStreamReader.name);
  private readonly followed = new Map<string, Set<Follower>>();
  private readonly wakeKey: string;
  private wakeCursor = '0-0';
  private client: Redis | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly connectionName: string,
    tag: string,
  ) {
    // In the lane's slot, like every stream it reads.
    this.wakeKey = `sse:${tag === '' ? '' : `{${tag}}:`}wake:${randomUUID()}`;
  }

  /** Entries of `key` after `after`, in order, as they arrive; never ends by itself. */
  follow(key: string, after: string): Observable<StreamEntry> {
    return new Observable<StreamEntry>((subscriber) => {
      const follower: Follower = {
        cursor: after,
        deliver: (entry) => subscriber.next(entry),
        complete: () => subscriber.complete(),
      };
      let followers = this.followed.get(key);
      const lowers =
        !followers || [...followers].every((f) => compareStreamIds(after, f.cursor) < 0);
      if (!followers) this.followed.set(key, (followers = new Set()));
      followers.add(follower);
      if (this.stopped) {
        subscriber.complete();
      } else {
        if (lowers) this.wake();
        this.run();
      }
      return () => {
        followers.delete(follower);
        if (followers.size === 0 && this.followed.get(key) === followers) this.followed.delete(key);
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const followers of this.followed.values())
      for (const follower of [...followers]) follower.complete();
    this.followed.clear();
    this.client?.disconnect();
    await this.redis.del(this.wakeKey).catch(() => undefined);
  }

  private connection(): Redis {
    this.client ??= duplicateClient(this.redis, this.connectionName);
    return this.client;
  }

  private wake(): void {
    if (!this.running) return;
    this.redis
      .pipeline()
      .xadd(this.wakeKey, 'MAXLEN', '1', '*', 'w', '1')
      .pexpire(this.wakeKey, 60_000)
      .exec()
      .catch((error: unknown) => this.logger.warn({ err: String(error) }, 'stream wake-up failed'));
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      // A follower that came while the loop was winding down.
      if (!this.stopped && this.followed.size > 0) this.run();
    });
  }

  private async loop(): Promise<void> {
    const client = this.connection();
    // ioredis's xread typings do not take a spread of keys and ids.
    const xread = client.xread.bind(client) as unknown as (
      ...args: (string | number)[]
    ) => Promise<XReadReply>;
    const prefix = this.redis.options.keyPrefix ?? '';
    while (!this.stopped && this.followed.size > 0) {
      // The read point of each stream: its slowest follower's cursor, fixed for this read.
      const reads = [...this.followed].map(([key, followers]) => ({
        key,
        from: [...followers].reduce(
          (min, f) => (compareStreamIds(f.cursor, min) < 0 ? f.cursor : min),
          [...followers][0]!.cursor,
        ),
      }));
      let reply: XReadReply;
      try {
        reply = await xread(
          'COUNT',
          ENTRIES_PER_READ,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.wakeKey,
          ...reads.map((r) => r.key),
          this.wakeCursor,
          ...reads.map((r) => r.from),
        );
      } catch (error) {
        if (this.stopped) return;
        this.logger.warn({ err: String(error) }, 'shared stream read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      const fromOf = new Map(reads.map((r) => [prefix + r.key, r]));
      for (const [name, entries] of reply ?? []) {
        if (name === prefix + this.wakeKey) {
          const last = entries[entries.length - 1];
          if (last) this.wakeCursor = last[0];
          continue;
        }
        const read = fromOf.get(name);
        const followers = read && this.followed.get(read.key);
        if (!read || !followers) continue;
        for (const follower of [...followers]) {
          // One that came during the read, from further back, waits for the next read:
          // these entries would skip the ones it is missing.
          if (compareStreamIds(follower.cursor, read.from) < 0) continue;
          for (const [id, fields] of entries) {
            if (compareStreamIds(id, follower.cursor) <= 0) continue;
            follower.cursor = id;
            follower.deliver({ id, fields });
          }
        }
      }
    }
  }
}

/** The hash tag of a full key (what Redis Cluster hashes), '' when it has none. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return '';
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : '';
}

/**
 * Follows Redis streams for every live response of this process (F6). One blocking XREAD
 * can only read keys of one hash slot on a Redis Cluster, so streams are grouped by hash
 * tag into lanes, each with one connection and one loop (StreamLane). On a single Redis
 * server the conversation streams carry no tag: there is one lane and one connection.
 */
@Injectable()
export class SharedStreamReader implements OnModuleDestroy {
  private readonly lanes = new Map<string, StreamLane>();
  private readonly prefix: string;
  /** CLIENT SETNAME of the shared connections: one name per process (pid) and REDIS_PREFIX. */
  readonly connectionName: string;

  constructor(
    @InjectRedis() private readonly redis: Redis,
    config: AppConfig,
  ) {
    const prefix = config.get('REDIS_PREFIX').replace(/[^A-Za-z0-9_-]/g, '_');
    this.connectionName = `verbatim-streams-${prefix}-${process.pid}`;
    this.prefix = this.redis.options.keyPrefix ?? '';
  }

  /** Id of the newest entry of `key` (`0-0` when empty): a start that misses nothing after now. */
  async latestId(key: string): Promise<string> {
    const [last] = (await this.redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
    return last?.[0] ?? '0-0';
  }

  /** Entries of `key` after `after`, in order, as they arrive; never ends by itself. */
  follow(key: string, after: string): Observable<StreamEntry> {
    const tag = hashTagOf(this.prefix + key);
    let lane = this.lanes.get(tag);
    if (!lane) this.lanes.set(tag, (lane = new StreamLane(this.redis, this.connectionName, tag)));
    return lane.follow(key, after);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.stop()));
  }
}
