import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { TurnBuffer } from '../conversations/turns/turn-buffer';
import { MetricsRegistry } from '../core/metrics/metrics-registry';
import { QueueName } from '../core/queue/queue-names';
import { MaintenanceService } from '../maintenance/maintenance.service';
import { ResourceFiguresService } from './resource-figures.service';

const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** The pg pool behind TypeORM, for pool gauges. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Prometheus metrics of this process, on the registry of src/core/metrics (where the
 * feature modules' counters, such as turns persisted, are recorded through ports).
 * Request latency is observed by an HTTP hook; queue depths, buffer backlog and pool
 * usage are read when Prometheus scrapes.
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly buffer: TurnBuffer,
    @InjectDataSource() private readonly dataSource: DataSource,
    metrics: MetricsRegistry,
    private readonly figures: ResourceFiguresService,
    private readonly maintenance: MaintenanceService,
  ) {
    this.registry = metrics.registry;
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  onModuleInit(): void {
    collectDefaultMetrics({ register: this.registry });
    const queues = Object.values(QueueName).map((name) =>
      this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }),
    );
    new Gauge({
      name: 'verbatim_queue_jobs',
      help: 'Jobs per queue and state (completed/failed are the retained outcomes)',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        for (const queue of queues) {
          const counts = await queue.getJobCounts(...JOB_STATES);
          for (const state of JOB_STATES)
            this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }
      },
    });
    const buffer = this.buffer;
    new Gauge({
      name: 'verbatim_turn_buffer_entries',
      help: 'Entries waiting in the Redis turn buffer, each the turns of one request or one revision (delivered-but-unacknowledged included)',
      registers: [this.registry],
      async collect() {
        this.set((await buffer.backlog()).length);
      },
    });
    new Gauge({
      name: 'verbatim_turn_persistence_lag_seconds',
      help: 'Age of the oldest turn still in the buffer',
      registers: [this.registry],
      async collect() {
        this.set((await buffer.oldestAgeMs()) / 1000);
      },
    });
    const pool = (this.dataSource.driver as unknown as { master?: PgPool }).master;
    new Gauge({
      name: 'verbatim_pg_pool_connections',
      help: 'Postgres pool connections by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        if (!pool) return;
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
    this.resourceGauges();
  }

  /** Sizes (SPEC section 12): database and tables, Redis memory, stored audio. */
  private resourceGauges(): void {
    const figures = this.figures;
    const maintenance = this.maintenance;
    new Gauge({
      name: 'verbatim_database_size_bytes',
      help: 'Size of the database on disk',
      registers: [this.registry],
      async collect() {
        this.set((await figures.database()).sizeBytes);
      },
    });
    const tableGauge = (name: string, help: string, pick: 'rows' | 'totalBytes'): void => {
      new Gauge({
        name,
        help,
        labelNames: ['table'] as const,
        registers: [this.registry],
        async collect() {
          const { tables } = await figures.database();
          for (const [table, values] of Object.entries(tables)) this.set({ table }, values[pick]);
        },
      });
    };
    tableGauge('verbatim_table_rows_estimate', 'Planner row estimate per table', 'rows');
    tableGauge('verbatim_table_size_bytes', 'Table size with indexes and TOAST', 'totalBytes');
    new Gauge({
      name: 'verbatim_redis_memory_bytes',
      help: 'Redis memory: used, and the configured maximum (0 = no limit)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const memory = await figures.redisMemory();
        this.set({ kind: 'used' }, memory.usedMemoryBytes);
        this.set({ kind: 'max' }, memory.maxMemoryBytes);
      },
    });
    new Gauge({
      name: 'verbatim_storage_objects',
      help: 'Stored audio objects at the last storage check',
      registers: [this.registry],
      async collect() {
        this.set((await maintenance.summary()).storage.objects ?? 0);
      },
    });
    new Gauge({
      name: 'verbatim_storage_bytes',
      help: 'Bytes of stored audio at the last storage check',
      registers: [this.registry],
      async collect() {
        this.set((await maintenance.summary()).storage.bytes ?? 0);
      },
    });
  }
}
