import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AuditService } from '../audit/audit.service';
import { AccessService } from '../core/access/access.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { NotFoundProblem } from '../core/http/problem.exception';
import { currentRequestId } from '../core/queue/job-data';
import { QueueName } from '../core/queue/queue-names';
import type { Actor } from '../core/security/actor';
import { grants } from '../core/security/permissions';
import { STORAGE, StorageDriver } from '../core/storage/storage-driver';
import { CaseExportEntity } from './entities/case-export.entity';
import { BuiltBundle, ExportBuilder } from './export-builder';
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
   * EXPORT_TTL_HOURS from now. A failure on the last attempt marks it failed.
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
      this.logger.warn({ exportId, error: (error as Error).message }, 'export build failed');
      if (lastAttempt) await this.fail(row, error as Error);
      else await this.repository.update(exportId, { status: 'queued' });
      throw error;
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

  private async fail(row: CaseExportEntity, error: Error): Promise<void> {
    await this.repository.inTransaction(async (manager) => {
      await this.repository.update(
        row.id,
        { status: 'failed', error: error.message.slice(0, 500) },
        manager,
      );
      await this.audit.record(
        {
          action: 'export.fail',
          resourceType: 'export',
          resourceId: row.id,
          caseId: row.caseId,
          actorId: null,
          outcome: 'failure',
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
