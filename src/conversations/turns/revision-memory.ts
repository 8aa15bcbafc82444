import { revisionOf, type TurnRecord } from './turn-record';

export interface RevisionMemoryOptions {
  maxEntries: number;
  /** Far below the revision counter's 7 days, so a remembered turn never outlives it. */
  maxAgeMs: number;
}

interface Entry<T> {
  turn: T;
  at: number;
}

/**
 * Turns this process wrote last (ingested, or revised), each as it left them: the base of
 * their next PATCH without a read. A revision number names one state of a turn for good
 * (the counter only moves by compare-and-set, a turn is accepted once), so a remembered
 * turn is exact as long as the turn's counter still holds its revision: the next PATCH
 * sends it to the revise script as its base, which checks exactly that in the same round
 * trip that applies it. A stale entry costs one refused attempt and the usual read, never
 * a wrong revision. Bounded in size and age; the oldest entry goes first.
 */
export class RevisionMemory<T extends TurnRecord> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly options: RevisionMemoryOptions,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(conversationId: string, messageNumber: number): T | undefined {
    const key = `${conversationId}:${messageNumber}`;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.options.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.turn;
  }

  /** Keeps `turn` unless a higher revision of it is remembered already. */
  remember(turn: T): void {
    const key = `${turn.conversationId}:${turn.messageNumber}`;
    const known = this.entries.get(key);
    if (known && revisionOf(known.turn) > revisionOf(turn)) return;
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { turn, at: this.now() });
  }

  forget(conversationId: string, messageNumber: number): void {
    this.entries.delete(`${conversationId}:${messageNumber}`);
  }
}
