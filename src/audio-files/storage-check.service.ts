import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../core/clock/clock';
import {
  LeftoversUnsupportedError,
  StorageDriver,
  UploadLeftover,
} from '../core/storage/storage-driver';
import { archiveAudioKey, caseAudioKey, extensionOfKey } from '../core/storage/storage-keys';
import { InjectStorage } from '../core/storage/storage.module';
import { AudioFilesRepository } from './audio-files.repository';

/** The two audio key shapes, with the audio id they belong to. */
const AUDIO_KEY =
  /^(?:cases\/[0-9a-f-]{36}|archive\/[0-9a-f-]{36})\/([0-9a-f-]{36})(?:\.[a-z0-9]{1,8})?$/;

/** Objects and writes younger than this are left alone: an upload may still be committing. */
export const STORAGE_CHECK_GRACE_MS = 60 * 60 * 1000;

const PAGE = 500;
const HEADS_IN_FLIGHT = 16;

/** The reason recorded on a row whose bytes are gone (SPEC section 12). */
export const MISSING_REASON = 'missing';

export interface StorageCheckReport {
  /** Every audio object in storage: the monitoring figures. */
  objects: number;
  bytes: number;
  /** Objects without a live row (older than the grace period). */
  orphans: { count: number; bytes: number; removed: number; keys: string[] };
  /** Live rows with no object under either of their keys. */
  missing: { count: number; marked: number; ids: string[] };
  /** Interrupted uploads; `null` where the backend cannot list them. */
  leftovers: { count: number; removed: number } | null;
  fixed: boolean;
}

/** At most this many keys and ids are named in a report; the counts are complete. */
const NAMED = 100;

/**
 * Storage against the database, both ways (SPEC section 12): objects without a row,
 * rows without an object, and what interrupted uploads left. Without `fix` it only
 * reports; with it, orphans and leftovers are deleted and missing rows marked `failed`
 * with reason `missing`, each audited. Memory stays flat: storage is read a listing page
 * at a time and rows a page at a time.
 */
@Injectable()
export class StorageCheckService {
  private readonly logger = new Logger(StorageCheckService.name);

  constructor(
    private readonly audio: AudioFilesRepository,
    @InjectStorage() private readonly storage: StorageDriver,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async check(options: { fix: boolean }): Promise<StorageCheckReport> {
    const before = this.clock.fromNow(-STORAGE_CHECK_GRACE_MS);
    const scan = await this.scanObjects(before, options.fix);
    const missing = await this.findMissing(options.fix);
    const leftovers = await this.sweepLeftovers(before, options.fix);
    const report: StorageCheckReport = { ...scan, missing, leftovers, fixed: options.fix };
    if (options.fix && (scan.orphans.removed > 0 || (leftovers?.removed ?? 0) > 0)) {
      await this.audit.record({
        action: 'storage.check',
        resourceType: 'storage',
        resourceId: this.storage.type,
        actorId: null,
        details: {
          orphansRemoved: scan.orphans.removed,
          orphanBytes: scan.orphans.bytes,
          orphanKeys: scan.orphans.keys,
          leftoversRemoved: leftovers?.removed ?? 0,
        },
      });
    }
    this.logger.log(
      {
        objects: report.objects,
        orphans: report.orphans.count,
        missing: report.missing.count,
        leftovers: report.leftovers?.count ?? 'unsupported',
        fixed: report.fixed,
      },
      'storage check done',
    );
    return report;
  }

  private async scanObjects(
    before: Date,
    fix: boolean,
  ): Promise<Pick<StorageCheckReport, 'objects' | 'bytes' | 'orphans'>> {
    const result = {
      objects: 0,
      bytes: 0,
      orphans: { count: 0, bytes: 0, removed: 0, keys: [] as string[] },
    };
    let page: { key: string; size: number; audioId: string; old: boolean }[] = [];
    const settle = async (): Promise<void> => {
      const live = await this.audio.liveIdsAmong([...new Set(page.map((o) => o.audioId))]);
      for (const object of page) {
        if (live.has(object.audioId) || !object.old) continue;
        result.orphans.count += 1;
        result.orphans.bytes += object.size;
        if (result.orphans.keys.length < NAMED) result.orphans.keys.push(object.key);
        if (fix) {
          await this.storage.delete(object.key);
          result.orphans.removed += 1;
        }
      }
      page = [];
    };
    for await (const object of this.storage.list('')) {
      const audioId = AUDIO_KEY.exec(object.key)?.[1];
      if (audioId === undefined) continue; // not audio (an export bundle, say): not ours to judge
      result.objects += 1;
      result.bytes += object.size;
      page.push({ key: object.key, size: object.size, audioId, old: object.modifiedAt < before });
      if (page.length >= PAGE) await settle();
    }
    await settle();
    return result;
  }

  private async findMissing(fix: boolean): Promise<StorageCheckReport['missing']> {
    const missing = { count: 0, marked: 0, ids: [] as string[] };
    let after: string | null = null;
    for (;;) {
      const rows = await this.audio.liveKeysPage(after, PAGE);
      if (rows.length === 0) return missing;
      after = rows[rows.length - 1]!.id;
      const absent = await this.inBatches(rows, async (row) =>
        (await this.hasBytes(row)) ? null : row,
      );
      for (const row of absent) {
        if (row === null) continue;
        missing.count += 1;
        if (missing.ids.length < NAMED) missing.ids.push(row.id);
        if (fix && row.errorMessage !== MISSING_REASON) {
          await this.markMissing(row);
          missing.marked += 1;
        }
      }
    }
  }

  /** The bytes are under the row's key, or under its counterpart while a move settles. */
  private async hasBytes(row: {
    id: string;
    caseId: string;
    storageKey: string;
  }): Promise<boolean> {
    if (await this.storage.head(row.storageKey)) return true;
    const extension = extensionOfKey(row.storageKey);
    const counterpart = row.storageKey.startsWith('archive/')
      ? caseAudioKey(row.caseId, row.id, extension)
      : archiveAudioKey(row.id, extension);
    return (await this.storage.head(counterpart)) !== null;
  }

  private async markMissing(row: {
    id: string;
    caseId: string;
    storageKey: string;
  }): Promise<void> {
    await this.audio.transaction(async (manager) => {
      const current = await this.audio.lockAny(row.id, manager);
      if (!current || current.deletedAt) return;
      await this.audio.update(
        row.id,
        { status: 'failed', errorMessage: MISSING_REASON, claimedBy: null, claimedAt: null },
        manager,
      );
      await this.audit.record(
        {
          action: 'audio.storage_missing',
          resourceType: 'audio',
          resourceId: row.id,
          caseId: row.caseId,
          actorId: null,
          outcome: 'failure',
          details: { storageKey: row.storageKey, previousStatus: current.status },
        },
        manager,
      );
    });
  }

  private async sweepLeftovers(
    before: Date,
    fix: boolean,
  ): Promise<StorageCheckReport['leftovers']> {
    const found: UploadLeftover[] = [];
    try {
      for await (const leftover of this.storage.leftovers(before)) found.push(leftover);
    } catch (error) {
      if (error instanceof LeftoversUnsupportedError) return null;
      throw error;
    }
    let removed = 0;
    if (fix) {
      for (const leftover of found) {
        await this.storage.removeLeftover(leftover);
        removed += 1;
      }
    }
    return { count: found.length, removed };
  }

  /** `work` over `items`, HEADS_IN_FLIGHT at a time, results in order. */
  private async inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = [];
    for (let start = 0; start < items.length; start += HEADS_IN_FLIGHT) {
      out.push(...(await Promise.all(items.slice(start, start + HEADS_IN_FLIGHT).map(work))));
    }
    return out;
  }
}
