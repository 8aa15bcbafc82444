import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AuditService } from '../audit/audit.service';
import { AccessService } from '../core/access/access.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { DomainEvents } from '../core/events/domain-events';
import { NotFoundProblem } from '../core/http/problem.exception';
import { currentRequestId } from '../core/queue/job-data';
import { QueueName } from '../core/queue/queue-names';
import type { Actor } from '../core/security/actor';
import { RequestContext } from '../core/http/request-context';
import { grants } from '../core/security/permissions';
import { STORAGE, StorageDriver } from '../core/storage/storage-driver';
import { exportBundleKey } from '../core/storage/storage-keys';
import { CaseExportEntity } from './entities/case-export.entity';
import {
  BuiltBundle,
  ExportBuildError,
  ExportBuilder,
  ExportSourceGoneError,
} from './export-builder';
import {
  EXPORT_JOB_HISTORY,
  EXPORT_JOB_OPTIONS,
  ExportJobData,
  ExportJobName,
  exportJobId,
} from './export-jobs';
import { ExportErrorCode, ExportException } from './exports.exception';
import { ExportsRepository } from './exports.repository';

const SWEEP_BATCH = 100;

export interface BundleDownload {
  row: CaseExportEntity;
  body: Readable;
}

/**
 * Signed case exports: requests (a row and a job), who may see and download one, the
 * job's build (ExportBuilder) and the expiry sweep. Exports, builds, downloads and
 * removals are audited on the case.
 */
@Injectable()
export class ExportsService {
  private readonly logger = new Logger(ExportsService.name);

  constructor(
    private readonly repository: ExportsRepository,
    private readonly builder: ExportBuilder,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly events: DomainEvents,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    @InjectQueue(QueueName.CaseExport) private readonly queue: Queue<ExportJobData>,
  ) {}

  /**
   * A new export of the case (the guard has checked the caller may read it), or the
   * caller's export of it that is still pending: asking twice does not build twice.
   */
  async request(actor: Actor, caseId: string): Promise<CaseExportEntity> {
    const pending = await this.repository.findPending(caseId, actor.userId);
    if (pending) return pending;
    const id = randomUUID();
    const jobId = exportJobId(id);
    const row = await this.repository.inTransaction(async (manager) => {
      const created = await this.repository.create(
        { id, caseId, requestedBy: actor.userId, jobId },
        manager,
      );
      await this.audit.record(
        { action: 'case.export', resourceType: 'export', resourceId: id, caseId },
        manager,
      );
      return created;
    });
    try {
      await this.queue.add(
        ExportJobName.Build,
        { exportId: id, requestedBy: actor.userId, ...currentRequestId() },
        { ...EXPORT_JOB_OPTIONS[ExportJobName.Build], ...EXPORT_JOB_HISTORY, jobId },
      );
    } catch (error) {
      await this.repository.update(id, { status: 'failed', error: 'The job could not be queued' });
      throw error;
    }
    return row;
  }

  /** The export, if the caller may see it; 404 otherwise (existence never leaks). */
  async get(actor: Actor, id: string): Promise<CaseExportEntity> {
    const row = await this.repository.findById(id);
    if (!row) throw new NotFoundProblem('export');
    // The requester, or whoever sees every case; and only while the case is still
    // readable to them (a requester removed from the case loses its exports).
    if (row.requestedBy !== actor.userId && !grants(actor.grants, 'cases:all')) {
      throw new NotFoundProblem('export');
    }
    const { decision } = await this.access.check('case', actor, row.caseId, 'read');
    if (decision !== 'allowed') throw new NotFoundProblem('export');
    return row;
  }

  /** The bundle's bytes, streamed from storage; audited before the first byte leaves. */
  async download(actor: Actor, id: string): Promise<BundleDownload> {
    const row = await this.get(actor, id);
    if (row.status === 'queued' || row.status === 'running') {
      throw new ExportException(ExportErrorCode.NotReady, { headers: { 'retry-after': '5' } });
    }
    if (row.status === 'failed') throw new ExportException(ExportErrorCode.Failed);
    if (row.status === 'expired' || !row.expiresAt || row.expiresAt <= this.clock.now()) {
      throw new ExportException(ExportErrorCode.Expired);
    }
    const body = await this.storage.get(row.storageKey!);
    try {
      await this.audit.record({
        action: 'export.download',
        resourceType: 'export',
        resourceId: row.id,
        caseId: row.caseId,
        details: { manifestSha256: row.manifestSha256, sizeBytes: Number(row.sizeBytes) },
      });
    } catch (error) {
      body.destroy();
      throw error;
    }
    return { row, body };
  }

  /**
   * The job: builds and stores the bundle, then marks the export ready until
   * EXPORT_TTL_HOURS from now. A failure on the last attempt (or one a retry cannot
   * help) marks it failed; earlier ones put it back to `queued` for the retry. Either
   * way the error thrown, which becomes the job's `error`, is an ExportBuildError whose
   * message is safe to show the requester: the driver's own (paths, endpoints) is logged.
   */
  async build(
    exportId: string,
    lastAttempt: boolean,
    onProgress: (percent: number) => Promise<void> | void,
  ): Promise<{ exportId: string }> {
    const row = await this.repository.findById(exportId);
    if (!row || row.status === 'ready' || row.status === 'expired') return { exportId };
    await this.repository.update(exportId, { status: 'running', error: null });
    let built: BuiltBundle;
    try {
      built = await this.builder.build(row, onProgress);
    } catch (error) {
      const reason = publicReason(error);
      const final = lastAttempt || error instanceof ExportSourceGoneError;
      this.logger.warn(
        { exportId, final, reason: reason.message, err: (error as Error).message },
        'export build failed',
      );
      if (final) await this.fail(row, reason.message);
      else await this.repository.update(exportId, { status: 'queued' });
      throw reason;
    }
    const completedAt = this.clock.now();
    const expiresAt = new Date(
      completedAt.getTime() + this.config.get('EXPORT_TTL_HOURS') * 3_600_000,
    );
    await this.repository.inTransaction(async (manager) => {
      await this.repository.update(
        exportId,
        {
          status: 'ready',
          storageKey: built.storageKey,
          sizeBytes: String(built.sizeBytes),
          manifestSha256: built.manifestSha256,
          keyId: built.keyId,
          entryCount: built.entryCount,
          completedAt,
          expiresAt,
        },
        manager,
      );
      await this.audit.record(
        {
          action: 'export.complete',
          resourceType: 'export',
          resourceId: exportId,
          caseId: row.caseId,
          actorId: null,
          details: {
            requestedBy: row.requestedBy,
            manifestSha256: built.manifestSha256,
            keyId: built.keyId,
            sizeBytes: built.sizeBytes,
            entryCount: built.entryCount,
            expiresAt: expiresAt.toISOString(),
          },
        },
        manager,
      );
    });
    return { exportId };
  }

  /**
   * The export failed for good: whatever the build may have left under its key goes
   * (the builder removes it already; a bundle stored just before a failure would
   * otherwise stay, unreachable and unjudged by the storage check), then the row is
   * marked failed with the reason, audited, and the requester alone is told
   * (`job.failed`): the export is theirs, and other participants cannot see it.
   */
  private async fail(row: CaseExportEntity, reason: string): Promise<void> {
    // Best effort: the row must be marked failed whatever storage does (and a bundle of
    // a failed export is never served, whether or not its object is gone).
    await this.storage
      .delete(exportBundleKey(row.id))
      .catch((error: unknown) =>
        this.logger.warn(
          { exportId: row.id, err: (error as Error).message },
          'could not remove the bundle of a failed export',
        ),
      );
    await this.repository.inTransaction(async (manager) => {
      await this.repository.update(row.id, { status: 'failed', error: reason }, manager);
      await this.audit.record(
        {
          action: 'export.fail',
          resourceType: 'export',
          resourceId: row.id,
          caseId: row.caseId,
          actorId: null,
          outcome: 'failure',
          details: { requestedBy: row.requestedBy, reason },
        },
        manager,
      );
      await this.events.publish(
        {
          type: 'job.failed',
          actorId: null,
          caseId: row.caseId,
          resourceType: 'export',
          resourceId: row.id,
          title: 'Your case export failed',
          notifyOnly: [row.requestedBy],
          data: { jobId: row.jobId, jobName: ExportJobName.Build, exportId: row.id, error: reason },
          occurredAt: this.clock.now(),
        },
        manager,
      );
    });
  }

  /**
   * Removes the bundles of exports past their expiry from storage and marks them
   * expired. The object goes first: a crash in between leaves a ready row without a
   * bundle, which the next sweep removes again (deleting is idempotent).
   */
  async expire(): Promise<{ expired: number }> {
    let expired = 0;
    for (;;) {
      const due = await this.repository.expiredReady(this.clock.now(), SWEEP_BATCH);
      for (const row of due) {
        if (row.storageKey) await this.storage.delete(row.storageKey);
        await this.repository.inTransaction(async (manager) => {
          await this.repository.update(
            row.id,
            { status: 'expired', expiredAt: this.clock.now() },
            manager,
          );
          await this.audit.record(
            {
              action: 'export.expire',
              resourceType: 'export',
              resourceId: row.id,
              caseId: row.caseId,
              actorId: null,
            },
            manager,
          );
        });
        expired += 1;
      }
      if (due.length < SWEEP_BATCH) return { expired };
    }
  }
}

/**
 * The failure as the requester may see it: the builder's own reasons as they are, and
 * anything else (a driver, database or stream error, whose message can carry paths,
 * endpoints or keys) as a generic reason with the request id to find it in the log.
 */
function publicReason(error: unknown): ExportBuildError {
  if (error instanceof ExportBuildError) return error;
  const requestId = RequestContext.current()?.requestId;
  return new ExportBuildError(
    `The bundle could not be built or stored (a storage or database error${
      requestId ? `; request id ${requestId} in the server log` : ''
    })`,
  );
}
