/**
 * What the turn pipeline reports about its persistence, whatever records it. Feature
 * modules depend on this port only; the process's metrics (src/core/metrics) implement
 * it, so the worker process records as much as the API.
 */
export interface PersistenceMetrics {
  /** `count` turns were inserted into Postgres by this process. */
  turnsPersisted(count: number): void;
}

export const PERSISTENCE_METRICS = Symbol('PERSISTENCE_METRICS');
