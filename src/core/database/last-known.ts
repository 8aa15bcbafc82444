import { isDependencyOutage } from './postgres-errors';

/**
 * Serves the last value successfully loaded for a key while the database is
 * unreachable, and only then: whenever Postgres answers, the fresh value is used, so
 * changes (deactivation, revocation) still take effect at once. Bounded in entries
 * and in age. This keeps the Redis-first ingestion path answering during an outage.
 */
export class LastKnown<V> {
  private readonly entries = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxAgeMs = 15 * 60_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    try {
      const value = await load();
      this.entries.delete(key);
      this.entries.set(key, { value, at: Date.now() });
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      return value;
    } catch (error) {
      const known = this.entries.get(key);
      if (known && isDependencyOutage(error) && Date.now() - known.at <= this.maxAgeMs)
        return known.value;
      throw error;
    }
  }
}
