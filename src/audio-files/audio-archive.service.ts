import { DomainEvents } from '../core/events/domain-events';
import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { AuditService } from '../audit/audit.service';
import { LegalHoldService } from '../cases/legal-hold.service';
import { Clock } from '../core/clock/clock';
import { AppConfig } from '../core/config/app-config';
import { GroupCommit } from '../core/database/group-commit';
import { RequestContext } from '../core/http/request-context';
import { hashStream } from '../core/storage/hashing';
import { StorageDriver, StorageNotFoundError } from '../core/storage/storage-driver';
import { archiveAudioKey, caseAudioKey, extensionOfKey } from '../core/storage/storage-keys';
import { InjectStorage } from '../core/storage/storage.module';
import { AudioFilesRepository, KeyChange } from './audio-files.repository';
import { AudioJobsService } from './audio-jobs.service';
import { AudioJobData, AudioJobName } from './audio-jobs';
import { AudioFileEntity } from './entities/audio-file.entity';

/** Archive jobs the retention sweep adds per addBulk. */
const ENQUEUE_CHUNK = 500;

export type Progress = (percent: number) => Promise<void> | void;

/** The steps of moving a file between its live and archive keys, in order. */
export type MoveStep = 'copy' | 'verify' | 'delete-source' | 'update-row';

export interface MoveOptions {
  /**
   * Stops (throws) right after this step, as a crash there would: the fault tests of
   * TARGETS R5 use it to prove the file stays reachable and a re-run completes.
   */
  crashAfter?: MoveStep;
}

export class SimulatedCrash extends Error {
  constructor(step: MoveStep) {
    super(`simulated crash after ${step}`);
    this.name = 'SimulatedCrash';
  }
}

export interface MoveResult {
  audioId: string;
  storageKey: string;
  /** Nothing to do: the file was already where the job would put it. */
  alreadyDone?: boolean;
}

/** A move whose bytes are in place and verified, waiting for its row and audit entry. */
interface FinishedMove {
  change: KeyChange;
  caseId: string;
  /** The file's original name, for the notification's title. */
  name: string;
  data: AudioJobData;
  requestId: string | undefined;
}

export interface VerifyResult {
  audioId: string;
  valid: boolean;
  reason?: string;
}

/**
 * What the `audio-archive` jobs do. Every operation is idempotent and safe to re-run
 * after a crash at any step: archive = copy to the archive key → verify the copy's
 * hash → delete the original → update the row; restore is the mirror image. Between
 * any two steps the bytes exist under at least one key the download path reads.
 */
@Injectable()
export class AudioArchiveService {
  private readonly logger = new Logger(AudioArchiveService.name);
  private readonly moves = new GroupCommit<FinishedMove>((moves) => this.commitMoves(moves));

  constructor(
    private readonly audio: AudioFilesRepository,
    private readonly jobs: AudioJobsService,
    private readonly holds: LegalHoldService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly context: RequestContext,
    private readonly clock: Clock,
    @InjectStorage() private readonly storage: StorageDriver,
    private readonly events: DomainEvents,
  ) {}

  async archive(
    data: AudioJobData,
    progress: Progress = () => undefined,
    options: MoveOptions = {},
  ): Promise<MoveResult> {
    const file = await this.audio.findAny(data.audioId);
    if (!file || file.deletedAt) throw new UnrecoverableError('The audio file no longer exists.');
    if (data.retention) {
      const kase = await this.holds.holdState(file.caseId);
      if (kase?.legalHoldAt) throw new UnrecoverableError('The case is under legal hold.');
    }
    const extension = extensionOfKey(file.storageKey);
    const live = caseAudioKey(file.caseId, file.id, extension);
    const archived = archiveAudioKey(file.id, extension);
    if (file.isArchived)
      return { audioId: file.id, storageKey: file.storageKey, alreadyDone: true };
    await this.move(file, live, archived, data, progress, options);
    return { audioId: file.id, storageKey: archived };
  }

  async restore(
    data: AudioJobData,
    progress: Progress = () => undefined,
    options: MoveOptions = {},
  ): Promise<MoveResult> {
    const file = await this.audio.findAny(data.audioId);
    if (!file || file.deletedAt) throw new UnrecoverableError('The audio file no longer exists.');
    const extension = extensionOfKey(file.storageKey);
    const live = caseAudioKey(file.caseId, file.id, extension);
    const archived = archiveAudioKey(file.id, extension);
    if (!file.isArchived)
      return { audioId: file.id, storageKey: file.storageKey, alreadyDone: true };
    await this.move(file, archived, live, data, progress, options);
    return { audioId: file.id, storageKey: live };
  }

  /**
   * Copies `from` → `to`, proves the copy by its sha256, deletes `from`, then points the
   * row at `to`. A re-run finds each finished step's result and goes on from there.
   */
  private async move(
    file: AudioFileEntity,
    from: string,
    to: string,
    data: AudioJobData,
    progress: Progress,
    options: MoveOptions,
  ): Promise<void> {
    const size = Number(file.sizeBytes);
    const [source, target] = await Promise.all([this.storage.head(from), this.storage.head(to)]);
    const copied = target !== null && target.size === size;
    if (!copied) {
      if (!source) {
        throw new Error(`Neither ${from} nor a complete ${to} exists; verify the file.`);
      }
      await this.storage.copy(from, to);
    }
    await progress(30);
    if (options.crashAfter === 'copy') throw new SimulatedCrash('copy');

    const check = await hashStream(await this.storage.get(to), (bytes) => {
      if (size > 0 && bytes % (64 << 20) < 1 << 20)
        void progress(30 + Math.floor((bytes / size) * 50));
    });
    if (check.sha256 !== file.sha256 || check.size !== size) {
      // A bad copy must not survive to be mistaken for a good one on the next run.
      if (source) await this.storage.delete(to);
      throw new Error(`The copy at ${to} does not match the file's sha256; it was removed.`);
    }
    await progress(80);
    if (options.crashAfter === 'verify') throw new SimulatedCrash('verify');

    await this.storage.delete(from);
    await progress(90);
    if (options.crashAfter === 'delete-source') throw new SimulatedCrash('delete-source');

    const archiving = to.startsWith('archive/');
    await this.moves.submit({
      change: {
        id: file.id,
        storageKey: to,
        archived: archiving,
        archiveReason: archiving ? (data.reason ?? null) : null,
      },
      caseId: file.caseId,
      name: file.originalName,
      data,
      requestId: this.context.requestId,
    });
    await progress(100);
  }

  /**
   * The last step of many moves in one transaction (see GroupCommit): each row points at
   * its new key, and each file that moved gets its own audit entry under the request id
   * of its own job. Rows already at their key (an earlier run got there) are not audited
   * again.
   */
  private async commitMoves(moves: FinishedMove[]): Promise<void> {
    await this.audio.transaction(async (manager) => {
      const moved = await this.audio.pointAtKeys(
        moves.map((move) => move.change),
        manager,
      );
      const done = moves.filter(({ change }) => moved.has(change.id));
      await this.audit.recordMany(
        done.map(({ change, caseId, data, requestId }) => ({
          action: change.archived ? 'audio.archive' : 'audio.restore',
          resourceType: 'audio',
          resourceId: change.id,
          caseId,
          actorId: data.requestedBy,
          requestId: requestId ?? this.context.requestId ?? null,
          details: change.archived
            ? { reason: data.reason ?? null, retention: !!data.retention }
            : {},
        })),
        manager,
      );
      // A job's outcome: the system did it, its requester and the case hear of it.
      await this.events.publish(
        done.map(({ change, caseId, name, data }) => ({
          type: change.archived ? 'audio.archived' : 'audio.restored',
          actorId: null,
          caseId,
          resourceType: 'audio',
          resourceId: change.id,
          title: `${name} was ${change.archived ? 'archived' : 'restored'}`,
          alsoNotify: data.requestedBy ? [data.requestedBy] : [],
          data: {
            audioFileId: change.id,
            requestedBy: data.requestedBy,
            ...(change.archived
              ? { reason: data.reason ?? null, retention: !!data.retention }
              : {}),
          },
          occurredAt: this.clock.now(),
        })),
        manager,
      );
    });
  }

  /**
   * A job on `data.audioId` failed for good (its last attempt, or unrecoverable): its
   * requester and the case's participants are told (`job.failed`). Nothing changed in the
   * database, so the notification is its own transaction.
   */
  async recordJobFailure(
    jobName: string,
    jobId: string | undefined,
    data: AudioJobData,
    error: string,
  ): Promise<void> {
    const file = await this.audio.findAny(data.audioId);
    await this.audio.transaction(async (manager) => {
      await this.events.publish(
        {
          type: 'job.failed',
          actorId: null,
          caseId: file?.caseId ?? null,
          resourceType: 'audio',
          resourceId: data.audioId,
          title: `The ${jobName} job of ${file?.originalName ?? 'an audio file'} failed`,
          alsoNotify: data.requestedBy ? [data.requestedBy] : [],
          data: {
            jobId: jobId ?? null,
            jobName,
            audioFileId: data.audioId,
            error: error.slice(0, 500),
          },
          occurredAt: this.clock.now(),
        },
        manager,
      );
    });
  }

  /** Removes the bytes under both keys and keeps the row as deleted; refused under legal hold. */
  async delete(data: AudioJobData, progress: Progress = () => undefined): Promise<MoveResult> {
    const file = await this.audio.findAny(data.audioId);
    if (!file) throw new UnrecoverableError('The audio file does not exist.');
    if (!file.deletedAt) {
      await this.audio.transaction(async (manager) => {
        const kase = await this.holds.holdState(file.caseId, { manager, lock: true });
        if (kase?.legalHoldAt) throw new UnrecoverableError('The case is under legal hold.');
        const current = await this.audio.lockAny(file.id, manager);
        if (current?.deletedAt) return;
        await this.audio.update(
          file.id,
          { deletedAt: this.clock.now(), claimedBy: null, claimedAt: null },
          manager,
        );
        await this.audit.record(
          {
            action: 'audio.delete',
            resourceType: 'audio',
            resourceId: file.id,
            caseId: file.caseId,
            actorId: data.requestedBy,
            details: { sizeBytes: Number(file.sizeBytes), sha256: file.sha256 },
          },
          manager,
        );
      });
    }
    await progress(50);
    // The row is marked first, so nobody reads bytes that are going; re-runs delete again.
    const extension = extensionOfKey(file.storageKey);
    await this.storage.delete(caseAudioKey(file.caseId, file.id, extension));
    await this.storage.delete(archiveAudioKey(file.id, extension));
    await progress(100);
    return { audioId: file.id, storageKey: file.storageKey };
  }

  /**
   * Re-hashes the stored bytes against the recorded sha256. A mismatch (or missing bytes)
   * marks the file failed with the reason and raises an audit entry; the job itself
   * succeeds, since it did its work.
   */
  async verify(data: AudioJobData, progress: Progress = () => undefined): Promise<VerifyResult> {
    const file = await this.audio.findAny(data.audioId);
    if (!file || file.deletedAt) throw new UnrecoverableError('The audio file no longer exists.');
    const size = Number(file.sizeBytes);
    let reason: string | undefined;
    try {
      const actual = await hashStream(await this.storage.get(file.storageKey), (bytes) => {
        if (size > 0 && bytes % (64 << 20) < 1 << 20)
          void progress(Math.floor((bytes / size) * 90));
      });
      if (actual.size !== size) reason = `size is ${actual.size} bytes, expected ${size}`;
      else if (actual.sha256 !== file.sha256)
        reason = `sha256 is ${actual.sha256}, expected ${file.sha256}`;
    } catch (error) {
      if (!(error instanceof StorageNotFoundError)) throw error;
      reason = 'the stored bytes are missing';
    }
    await this.audio.transaction(async (manager) => {
      if (reason) {
        await this.audio.update(
          file.id,
          {
            status: 'failed',
            errorMessage: `Integrity check failed: ${reason}`,
            claimedBy: null,
            claimedAt: null,
          },
          manager,
        );
      } else {
        await this.audio.update(file.id, { verifiedAt: this.clock.now() }, manager);
      }
      await this.audit.record(
        {
          action: reason ? 'audio.verify_failed' : 'audio.verify',
          resourceType: 'audio',
          resourceId: file.id,
          caseId: file.caseId,
          actorId: data.requestedBy,
          outcome: reason ? 'failure' : 'success',
          details: reason ? { reason } : { sha256: file.sha256 },
        },
        manager,
      );
      if (reason) {
        await this.events.publish(
          {
            type: 'audio.integrity_failed',
            actorId: null,
            caseId: file.caseId,
            resourceType: 'audio',
            resourceId: file.id,
            title: `${file.originalName} failed its integrity check`,
            alsoNotify: data.requestedBy ? [data.requestedBy] : [],
            data: { audioFileId: file.id, reason, requestedBy: data.requestedBy },
            occurredAt: this.clock.now(),
          },
          manager,
        );
      }
    });
    await progress(100);
    return reason ? { audioId: file.id, valid: false, reason } : { audioId: file.id, valid: true };
  }

  /**
   * Stale processing claims (no claim renewal, progress or result for
   * CLAIM_TIMEOUT_MINUTES by the application clock) go back to `queued`, each audited as
   * `audio.claim_expired`. Run every minute by the retention queue and by the nightly sweep.
   */
  async releaseStaleClaims(): Promise<{ released: string[] }> {
    return this.audio.transaction(async (manager) => {
      const rows = await this.audio.releaseStaleClaims(
        this.config.get('CLAIM_TIMEOUT_MINUTES'),
        this.clock.now(),
        manager,
      );
      for (const row of rows) {
        await this.audit.record(
          {
            action: 'audio.claim_expired',
            resourceType: 'audio',
            resourceId: row.id,
            caseId: row.caseId,
            actorId: null,
            details: { claimedBy: row.claimedBy },
          },
          manager,
        );
      }
      if (rows.length > 0)
        this.logger.log({ claimsReleased: rows.length }, 'stale claims released');
      return { released: rows.map((row) => row.id) };
    });
  }

  /**
   * The nightly sweep: stale claims go back to `queued`, and audio of cases closed longer
   * than RETENTION_ARCHIVE_DAYS (and not held) is queued for archiving.
   */
  async sweep(
    progress: Progress = () => undefined,
  ): Promise<{ claimsReleased: number; archiveJobs: number }> {
    const released = (await this.releaseStaleClaims()).released.length;
    await progress(10);
    const days = this.config.get('RETENTION_ARCHIVE_DAYS');
    const closedBefore = this.clock.fromNow(-days * 24 * 3600 * 1000);
    const candidates = await this.audio.findRetentionCandidates(closedBefore, 10_000);
    let done = 0;
    for (let start = 0; start < candidates.length; start += ENQUEUE_CHUNK) {
      const chunk = candidates.slice(start, start + ENQUEUE_CHUNK);
      await this.jobs.enqueueMany(AudioJobName.Archive, chunk, null, {
        reason: `Retention: case closed more than ${days} days ago`,
        retention: true,
      });
      done += chunk.length;
      await progress(10 + Math.floor((done / candidates.length) * 90));
    }
    await progress(100);
    this.logger.log({ claimsReleased: released, archiveJobs: done }, 'retention sweep done');
    return { claimsReleased: released, archiveJobs: done };
  }
  /**
   * Purge (SPEC section 12): live audio of cases deleted before `deletedBefore` and not
   * held is queued for deletion; the delete job re-checks the hold under a lock.
   */
  async purgeDeletedCases(deletedBefore: Date, reason: string): Promise<{ deleteJobs: number }> {
    const candidates = await this.audio.purgeCandidates(deletedBefore, 10_000);
    for (let start = 0; start < candidates.length; start += ENQUEUE_CHUNK) {
      await this.jobs.enqueueMany(
        AudioJobName.Delete,
        candidates.slice(start, start + ENQUEUE_CHUNK),
        null,
        { reason },
      );
    }
    return { deleteJobs: candidates.length };
  }
}
