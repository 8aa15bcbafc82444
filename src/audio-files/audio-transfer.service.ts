import type { Multipart, MultipartFile } from '@fastify/multipart';
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuditService } from '../audit/audit.service';
import { UsageService } from '../audit/usage.service';
import { LegalHoldService } from '../cases/legal-hold.service';
import { AppConfig } from '../core/config/app-config';
import { postgresErrorCode, UNIQUE_VIOLATION } from '../core/database/postgres-errors';
import { DomainEvents } from '../core/events/domain-events';
import { NotFoundProblem, ValidationProblem } from '../core/http/problem.exception';
import type { Actor } from '../core/security/actor';
import { HashingCounter, SizeLimitExceededError } from '../core/storage/hashing';
import {
  StorageDriver,
  StorageNotFoundError,
  StorageUnavailableError,
} from '../core/storage/storage-driver';
import { archiveAudioKey, caseAudioKey, extensionOfKey } from '../core/storage/storage-keys';
import { InjectStorage } from '../core/storage/storage.module';
import { AudioErrorCode, AudioException } from './audio-files.exception';
import { AudioFilesRepository } from './audio-files.repository';
import { AudioFilesService } from './audio-files.service';
import { LANGUAGE_TAG } from './dto/audio-file.dto';
import { AudioFileEntity } from './entities/audio-file.entity';
import { audioDuration, needsTail, TAIL_BYTES, TailKeeper } from './media/audio-duration';
import { detectAudioType, isTruncated, SNIFF_BYTES } from './media/audio-type';
import { ifNoneMatchHits, parseRange } from './media/byte-range';
import { peek } from './media/peek';

export interface DownloadRequest {
  range?: string;
  ifNoneMatch?: string;
  ifRange?: string;
}

/** What the controller writes to the reply. */
export interface DownloadResponse {
  status: 200 | 206 | 304;
  headers: Record<string, string>;
  body?: Readable;
}

const uploadError = (message: string, field = 'file'): ValidationProblem =>
  new ValidationProblem([{ field, message }], 'The upload is not valid.');

/** A display name only: the last path segment, no control characters, bounded. */
export function safeDisplayName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = [...base]
    .filter((c) => c.charCodeAt(0) > 0x1f && c !== '\u007f')
    .join('')
    .trim()
    .slice(0, 255);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'audio' : cleaned;
}

function isTooLarge(error: unknown): boolean {
  return (
    error instanceof SizeLimitExceededError ||
    (error as { code?: unknown } | null)?.code === 'FST_REQ_FILE_TOO_LARGE'
  );
}

/**
 * Moving audio bytes in and out: upload (sniffed, hashed, counted, deduplicated) and
 * download (ranges, ETag). Bytes move as streams between the client and storage and are
 * never held in memory. Visibility is enforced by the access guard before these run.
 */
@Injectable()
export class AudioTransferService {
  private readonly logger = new Logger(AudioTransferService.name);

  constructor(
    private readonly audio: AudioFilesRepository,
    private readonly holds: LegalHoldService,
    private readonly audit: AuditService,
    private readonly usage: UsageService,
    private readonly config: AppConfig,
    private readonly files: AudioFilesService,
    @InjectStorage() private readonly storage: StorageDriver,
    private readonly events: DomainEvents,
  ) {}

  // --- upload ---------------------------------------------------------------------

  /**
   * Streams the one `file` part to storage while hashing and counting it. Fields other
   * than `language` (before the file) are refused, so a client can never name a
   * storage key; anything that fails after bytes were stored removes them again.
   */
  async upload(
    actor: Actor,
    caseId: string,
    parts: AsyncIterable<Multipart>,
    declaredLength?: number,
  ): Promise<AudioFileEntity> {
    const maxBytes = this.config.get('AUDIO_MAX_BYTES');
    // Multipart framing adds well under 64 KiB; a larger declared body cannot fit.
    if (declaredLength !== undefined && declaredLength > maxBytes + 64 * 1024) {
      throw new AudioException(AudioErrorCode.TooLarge, {
        detail: `The file is larger than the upload limit of ${maxBytes} bytes.`,
      });
    }
    const kase = await this.holds.holdState(caseId);
    if (!kase) throw new NotFoundProblem('case');
    if (kase.status === 'closed') throw new AudioException(AudioErrorCode.CaseClosed);

    let language: string | null = null;
    let stored: Omit<StoredUpload, 'language'> | undefined;
    try {
      for await (const part of parts) {
        if (stored) {
          throw uploadError(`unexpected part "${part.fieldname}" after the file`, part.fieldname);
        }
        if (part.type === 'field') {
          if (part.fieldname !== 'language') {
            throw uploadError(`field "${part.fieldname}" is not allowed`, part.fieldname);
          }
          language = await this.checkLanguage(part.value);
          continue;
        }
        if (part.fieldname !== 'file') {
          throw uploadError(`file field must be named "file"`, part.fieldname);
        }
        stored = await this.store(caseId, part, maxBytes);
      }
      if (!stored) throw uploadError('a file part named "file" is required');
      return await this.record(actor, caseId, { ...stored, language });
    } catch (error) {
      if (stored) await this.removeQuietly(stored.key);
      throw error;
    }
  }

  private async checkLanguage(value: unknown): Promise<string> {
    if (typeof value !== 'string' || !LANGUAGE_TAG.test(value)) {
      throw uploadError('language must be a language tag such as en', 'language');
    }
    if (!(await this.audio.languageExists(value))) {
      throw uploadError(`language "${value}" is not a known language`, 'language');
    }
    return value;
  }

  private async store(
    caseId: string,
    part: MultipartFile,
    maxBytes: number,
  ): Promise<Omit<StoredUpload, 'language'>> {
    const { head, rest } = await peek(part.file, SNIFF_BYTES);
    const type = detectAudioType(head);
    if (!type) {
      rest.destroy();
      part.file.resume();
      throw new AudioException(AudioErrorCode.UnsupportedMediaType);
    }
    const id = randomUUID();
    const key = caseAudioKey(caseId, id, type.extension);
    const counter = new HashingCounter(maxBytes);
    // Ogg and MP4 keep their last bytes for the duration; nothing else is held.
    const tail = needsTail(type) ? new TailKeeper(TAIL_BYTES) : null;
    const feeding = tail ? pipeline(rest, tail, counter) : pipeline(rest, counter);
    feeding.catch(() => undefined); // surfaced through `put` via the counter
    try {
      await this.storage.put(key, counter, { contentType: type.mimeType });
      await feeding;
      if (part.file.truncated) throw new SizeLimitExceededError(maxBytes);
    } catch (error) {
      // Storage that did not answer the put will likely not answer the clean-up either:
      // the caller gets the 503 now, the delete runs on (storage-check finds what it misses).
      if (error instanceof StorageUnavailableError) void this.removeQuietly(key);
      else await this.removeQuietly(key);
      if (isTooLarge(error) || part.file.truncated) {
        part.file.resume();
        throw new AudioException(AudioErrorCode.TooLarge, {
          detail: `The file is larger than the upload limit of ${maxBytes} bytes.`,
        });
      }
      throw error;
    }
    if (isTruncated(type, head, counter.bytes)) {
      // The header promised more audio than arrived (F10): not a playable file.
      await this.removeQuietly(key);
      throw new AudioException(AudioErrorCode.UnsupportedMediaType);
    }
    return {
      id,
      key,
      mimeType: type.mimeType,
      originalName: safeDisplayName(part.filename),
      size: counter.bytes,
      sha256: counter.digest(),
      durationSeconds: await audioDuration(
        type,
        head,
        tail?.tail() ?? Buffer.alloc(0),
        counter.bytes,
      ),
    };
  }

  private async record(
    actor: Actor,
    caseId: string,
    upload: StoredUpload,
  ): Promise<AudioFileEntity> {
    const duplicate = await this.audio.findLiveDuplicate(caseId, upload.sha256);
    if (duplicate) throw this.duplicateOf(duplicate);
    const autoQueue = this.config.get('AUTO_QUEUE');
    try {
      return await this.audio.transaction(async (manager) => {
        const created = await this.audio.insert(
          {
            id: upload.id,
            caseId,
            originalName: upload.originalName,
            mimeType: upload.mimeType,
            sizeBytes: String(upload.size),
            durationSeconds: upload.durationSeconds,
            sha256: upload.sha256,
            status: autoQueue ? 'queued' : 'uploaded',
            language: upload.language,
            storageType: this.storage.type,
            storageKey: upload.key,
            uploadedBy: actor.userId,
          },
          manager,
        );
        await this.usage.increment(
          actor.userId,
          {
            filesUploaded: 1,
            bytesUploaded: upload.size,
            audioSeconds: upload.durationSeconds ?? 0,
          },
          manager,
        );
        await this.audit.record(
          {
            action: 'audio.upload',
            resourceType: 'audio',
            resourceId: created.id,
            caseId,
            details: {
              sizeBytes: upload.size,
              sha256: upload.sha256,
              mimeType: upload.mimeType,
              originalName: upload.originalName,
            },
          },
          manager,
        );
        await this.events.publish(
          {
            type: 'audio.uploaded',
            actorId: actor.userId,
            caseId,
            resourceType: 'audio',
            resourceId: created.id,
            title: `Audio ${upload.originalName} uploaded`,
            data: {
              audioId: created.id,
              originalName: upload.originalName,
              mimeType: upload.mimeType,
              sizeBytes: upload.size,
              sha256: upload.sha256,
              durationSeconds: upload.durationSeconds,
              status: created.status,
            },
            occurredAt: created.createdAt,
          },
          manager,
        );
        return created;
      });
    } catch (error) {
      if (postgresErrorCode(error) === UNIQUE_VIOLATION) {
        const existing = await this.audio.findLiveDuplicate(caseId, upload.sha256);
        if (existing) throw this.duplicateOf(existing);
      }
      throw error;
    }
  }

  private duplicateOf(existing: AudioFileEntity): AudioException {
    return new AudioException(AudioErrorCode.Duplicate, {
      detail: `The case already holds this content as audio file ${existing.id}.`,
      extensions: { existingId: existing.id },
    });
  }

  private async removeQuietly(key: string): Promise<void> {
    await this.storage.delete(key).catch((error: unknown) => {
      this.logger.warn({ err: error, key }, 'could not remove stored bytes of a refused upload');
    });
  }

  // --- download -----------------------------------------------------------------

  /**
   * The bytes, or a slice of them. The ETag is the sha256, so a cached copy is valid
   * exactly while the content is the same. Every transfer of bytes is audited.
   */
  async download(id: string, request: DownloadRequest): Promise<DownloadResponse> {
    const file = await this.files.get(id);
    if (file.isArchived) throw new AudioException(AudioErrorCode.Archived);
    const size = Number(file.sizeBytes);
    const etag = `"${file.sha256}"`;
    const common: Record<string, string> = {
      etag,
      'accept-ranges': 'bytes',
      'cache-control': 'private, no-cache',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.originalName)}`,
    };
    if (ifNoneMatchHits(request.ifNoneMatch, etag)) return { status: 304, headers: common };

    // If-Range with another validator: the client's partial copy is stale, send it all.
    const rangeHeader =
      request.ifRange !== undefined && request.ifRange.trim() !== etag ? undefined : request.range;
    const range = parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      throw new AudioException(AudioErrorCode.RangeNotSatisfiable, {
        headers: { 'content-range': `bytes */${size}` },
      });
    }
    const body = await this.open(file, range);
    await this.audit.record({
      action: 'audio.download',
      resourceType: 'audio',
      resourceId: file.id,
      caseId: file.caseId,
      details: range ? { range: `${range.start}-${range.end}` } : {},
    });
    const headers = { ...common, 'content-type': file.mimeType };
    if (!range)
      return { status: 200, headers: { ...headers, 'content-length': String(size) }, body };
    return {
      status: 206,
      headers: {
        ...headers,
        'content-length': String(range.end - range.start + 1),
        'content-range': `bytes ${range.start}-${range.end}/${size}`,
      },
      body,
    };
  }

  /**
   * Opens the stored bytes. An archive interrupted after deleting the original but
   * before updating the row leaves the bytes only under the archive key: read them
   * there, so a crash at any step of archiving never makes a file unreachable.
   */
  private async open(
    file: AudioFileEntity,
    range?: { start: number; end: number },
  ): Promise<Readable> {
    try {
      return await this.storage.get(file.storageKey, range);
    } catch (error) {
      if (!(error instanceof StorageNotFoundError)) throw error;
      const fallback = archiveAudioKey(file.id, extensionOfKey(file.storageKey));
      if (fallback === file.storageKey) throw new AudioException(AudioErrorCode.ContentMissing);
      return this.storage.get(fallback, range).catch((second: unknown) => {
        if (second instanceof StorageNotFoundError) {
          throw new AudioException(AudioErrorCode.ContentMissing);
        }
        throw second;
      });
    }
  }
}

interface StoredUpload {
  id: string;
  key: string;
  mimeType: string;
  originalName: string;
  size: number;
  sha256: string;
  durationSeconds: number | null;
  language: string | null;
}
