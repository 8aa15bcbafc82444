import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Clock } from '../core/clock/clock';
import { RequestContext } from '../core/http/request-context';
import { AuditAction } from './activity-types';
import { ChainVerdict, ChainWalker } from './audit-chain';
import { AuditCheckpointsRepository } from './audit-checkpoints.repository';
import { AuditCheckpointsService } from './audit-checkpoints.service';
import { AuditFilter, AuditRepository, ChainSpan, NewAuditEntry } from './audit.repository';
import { AuditCheckpointEntity } from './entities/audit-checkpoint.entity';
import { AuditLogEntity } from './entities/audit-log.entity';
import { NotFoundProblem } from '../core/http/problem.exception';
import { GroupCommit } from '../core/database/group-commit';

export interface VerifyOptions {
  from?: Date;
  to?: Date;
  /** Start right after this checkpoint's entry, trusting the chain up to it. */
  fromCheckpoint?: string;
}

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
  /**
   * Entries recorded outside a caller's transaction. Every append serialises on the chain
   * lock, so N concurrent writers each holding a pooled connection while they queue for it
   * exhausted the pool (503) under bursts; grouped, they share one transaction.
   */
  private readonly standalone = new GroupCommit<NewAuditEntry[]>(async (groups) => {
    await this.repository.inTransaction((tx) => this.repository.appendMany(groups.flat(), tx));
  });

  constructor(
    private readonly repository: AuditRepository,
    private readonly checkpointRows: AuditCheckpointsRepository,
    private readonly checkpoints: AuditCheckpointsService,
    private readonly context: RequestContext,
    private readonly clock: Clock,
  ) {}

  async record(event: AuditEvent, manager?: EntityManager): Promise<void> {
    await this.recordMany([event], manager);
  }

  /** Several entries at once, chained in the order given (one statement, see appendMany). */
  async recordMany(events: AuditEvent[], manager?: EntityManager): Promise<void> {
    const entries = events.map((event) => this.entryOf(event));
    if (manager) await this.repository.appendMany(entries, manager);
    else await this.standalone.submit(entries);
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

  /**
   * Walks the chain (a time range of it, or from a checkpoint on) and holds it to every
   * signed checkpoint in the walked part: each must verify, and the chain must reach its
   * entry with the signed seq and hash. Without `to`, that includes the newest
   * checkpoint, so deleting the newest entries past it, or all of them, shows.
   */
  async verify(options: VerifyOptions): Promise<ChainVerdict> {
    let span: ChainSpan | null;
    if (options.fromCheckpoint !== undefined) {
      const start = await this.checkpointRows.findById(options.fromCheckpoint);
      if (!start) throw new NotFoundProblem('checkpoint');
      const entry = await this.checkpointRows.entry(start.lastId);
      if (
        !(await this.checkpoints.isAuthentic(start)) ||
        !entry ||
        entry.seq !== Number(start.lastSeq) ||
        entry.hash !== start.lastHash
      ) {
        return this.broken(start, 0, entry?.seq);
      }
      span = {
        after: start.lastId,
        last: null,
        start: { hash: entry.hash, seq: entry.seq, hashVersion: entry.hashVersion },
      };
    } else {
      span = await this.repository.chainSpan(options);
    }
    if (!span) return { valid: true, checked: 0 };

    const checkpoints = await this.checkpointRows.inSpan(span.after, span.last);
    for (const checkpoint of checkpoints) {
      if (!(await this.checkpoints.isAuthentic(checkpoint))) return this.broken(checkpoint, 0);
    }
    const byEntry = new Map(checkpoints.map((c) => [c.lastId, c]));
    const reached = new Set<string>();
    let mismatch: AuditCheckpointEntity | undefined;
    let lastSeq = span.start.seq;
    const walker = new ChainWalker(span.start);
    await this.repository.walk(span, (entry) => {
      if (!walker.next(entry)) return false;
      lastSeq = entry.seq;
      const checkpoint = byEntry.get(entry.id);
      if (checkpoint) {
        if (entry.seq !== Number(checkpoint.lastSeq) || entry.hash !== checkpoint.lastHash) {
          mismatch = checkpoint;
          return false;
        }
        reached.add(checkpoint.lastId);
      }
      return true;
    });
    const verdict: ChainVerdict = walker.verdict;
    if (!verdict.valid) {
      const { firstBrokenId, reason, expectedSeq, foundSeq } = verdict;
      this.logger.warn({ firstBrokenId, reason, expectedSeq, foundSeq }, 'audit chain broken');
      return verdict;
    }
    const unreached = mismatch ?? checkpoints.find((c) => !reached.has(c.lastId));
    return unreached ? this.broken(unreached, verdict.checked, lastSeq) : verdict;
  }

  private broken(
    checkpoint: AuditCheckpointEntity,
    checked: number,
    foundSeq?: number,
  ): ChainVerdict {
    this.logger.warn(
      { checkpointId: checkpoint.id, lastSeq: checkpoint.lastSeq, foundSeq },
      'audit chain does not match a signed checkpoint',
    );
    return {
      valid: false,
      checked,
      reason: 'checkpoint',
      checkpointId: checkpoint.id,
      expectedSeq: Number(checkpoint.lastSeq),
      ...(foundSeq !== undefined ? { foundSeq } : {}),
    };
  }
}
