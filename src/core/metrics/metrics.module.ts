import { Global, Module } from '@nestjs/common';
import { MetricsRegistry, PrometheusPersistenceMetrics } from './metrics-registry';
import { PERSISTENCE_METRICS } from './persistence-metrics.port';

/**
 * Infrastructure every process has, like config and logging: the metrics registry and
 * the metrics ports' implementations. Observability serves the registry at /metrics;
 * feature modules record through the ports without importing observability.
 */
@Global()
@Module({
  providers: [
    MetricsRegistry,
    PrometheusPersistenceMetrics,
    { provide: PERSISTENCE_METRICS, useExisting: PrometheusPersistenceMetrics },
  ],
  exports: [MetricsRegistry, PERSISTENCE_METRICS],
})
export class MetricsModule {}
