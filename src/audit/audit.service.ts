import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Clock } from '../core/clock/clock';
import { RequestContext } from '../core/http/request-context';
import { AuditAction } from './activity-types';
import { ChainVerdict, ChainWalker } from './audit-chain';
import { AuditFilter, AuditRepository, NewAuditEntry } from './audit.repository';
import { AuditLogEntity } from './entities/audit-log.entity';

export interface AuditEvent {
  action: AuditAction;
  resourceType?: string;
  resourceId?: string;
  caseId?: string;
  outcome?: 'success' | 'failure';
  /** Context for readers; never secrets. */
  details?: Record<string, unknown>;
  /** Defaults to the authenticated actor of the current request. */
  actorId?: string | null;
  /** Defaults to the current request's (or job's) id. */
  requestId?: string | null;
}

/**
 * The one line every module uses to audit: `await audit.record({ action, ... }, manager)`.
 * Actor, IP, user agent and request id come from the request context. Pass the
 * transaction's manager so the entry commits (or rolls back) with the change it records.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    private readonly repository: AuditRepository,
    private readonly context: RequestContext,
    private readonly clock: Clock,
  ) {}

  async record(event: AuditEvent, manager?: EntityManager): Promise<void> {
    await this.recordMany([event], manager);
  }

  /** Several entries at once, chained in the order given (one statement, see appendMany). */
  async recordMany(events: AuditEvent[], manager?: EntityManager): Promise<void> {
    const entries = events.map((event) => this.entryOf(event));
    if (manager) {
      await this.repository.appendMany(entries, manager);
    } else {
      await this.repository.inTransaction((tx) => this.repository.appendMany(entries, tx));
    }
  }

  private entryOf(event: AuditEvent): NewAuditEntry {
    return {
      occurredAt: this.clock.now(),
      actorId: event.actorId !== undefined ? event.actorId : (this.context.actor?.userId ?? null),
      // Clamped to the column widths: a forged header must not make the audited action fail.
      actorIp: this.context.ip?.slice(0, 64) ?? null,
      userAgent: this.context.userAgent?.slice(0, 512) ?? null,
      action: event.action,
      resourceType: event.resourceType ?? null,
      resourceId: event.resourceId ?? null,
      caseId: event.caseId ?? null,
      outcome: event.outcome ?? 'success',
      details: event.details ?? {},
      requestId: event.requestId !== undefined ? event.requestId : (this.context.requestId ?? null),
    };
  }

  list(filter: AuditFilter, limit: number): Promise<AuditLogEntity[]> {
    return this.repository.list(filter, limit + 1);
  }

  async verify(range: { from?: Date; to?: Date }): Promise<ChainVerdict> {
    const span = await this.repository.chainSpan(range);
    if (!span) return { valid: true, checked: 0 };
    const walker = new ChainWalker(span.start);
    await this.repository.walk(span, (entry) => walker.next(entry));
    const verdict = walker.verdict;
    if (!verdict.valid) {
      const { firstBrokenId, reason, expectedSeq, foundSeq } = verdict;
      this.logger.warn({ firstBrokenId, reason, expectedSeq, foundSeq }, 'audit chain broken');
    }
    return verdict;
  }
}
