import { Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { PersistenceMetrics } from './persistence-metrics.port';

/** The Prometheus registry of this process (API or worker); /metrics serves it. */
@Injectable()
export class MetricsRegistry {
  readonly registry = new Registry();
}

/** PersistenceMetrics as Prometheus counters on the process's registry. */
@Injectable()
export class PrometheusPersistenceMetrics implements PersistenceMetrics {
  private readonly persisted: Counter;

  constructor(metrics: MetricsRegistry) {
    this.persisted = new Counter({
      name: 'verbatim_turns_persisted_total',
      help: 'Turns inserted into Postgres by the persistence workers of this process',
      registers: [metrics.registry],
    });
  }

  turnsPersisted(count: number): void {
    this.persisted.inc(count);
  }
}
