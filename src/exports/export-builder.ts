import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EntityManager } from 'typeorm';
import { ArchiveWriter } from '../core/archive/archive-writer';
import { Clock } from '../core/clock/clock';
import { ReplicaReads } from '../core/database/replica-reads';
import { STORAGE, StorageDriver, StorageNotFoundError } from '../core/storage/storage-driver';
import { exportBundleKey, extensionOfKey } from '../core/storage/storage-keys';
import { SigningKeys } from '../core/signing/signing-keys';
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  ExportManifest,
  MANIFEST_ENTRY,
  ManifestFile,
  SIGNATURE_ENTRY,
} from './bundle-format';
import { CaseExportEntity } from './entities/case-export.entity';
import { ExportsRepository } from './exports.repository';

const PAGE = 1000;

export interface BuiltBundle {
  storageKey: string;
  sizeBytes: number;
  manifestSha256: string;
  keyId: string;
  entryCount: number;
}

/**
 * Why a build failed, in words fit for the requester (the export's `error`, the job's
 * `error`, the `job.failed` notification): never a path, endpoint or driver message.
 */
export class ExportBuildError extends Error {
  override readonly name = 'ExportBuildError';
}

/** The case is gone (deleted since the request): retrying cannot help. */
export class ExportSourceGoneError extends ExportBuildError {}

/**
 * A live audio file's bytes are not in storage. A bundle without them would be signed
 * evidence with a hole, so the build fails; a retry helps when an archive or restore was
 * moving the object (the next attempt reads the new key), otherwise the object has to be
 * put back (or the file deleted) before a new export can succeed.
 */
export class ExportAudioMissingError extends ExportBuildError {
  constructor(readonly audioId: string) {
    super(`Audio file ${audioId} is missing from storage`);
  }
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

/**
 * Builds one signed bundle (layout in bundle-format.ts) straight into storage: the tar
 * is produced as it is uploaded, audio streams from storage through a hash into its
 * entry, and generated entries that can grow without bound (a conversation's turns,
 * the case's audit entries) are spooled to a temporary file first, because a tar
 * header needs the size before the bytes. Memory stays bounded by the stream buffers
 * whatever the size of the case; each byte is read from storage once.
 */
@Injectable()
export class ExportBuilder {
  constructor(
    private readonly repository: ExportsRepository,
    private readonly replica: ReplicaReads,
    @Inject(STORAGE) private readonly storage: StorageDriver,
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
  ) {}

  /**
   * The bundle's data is read on one connection: a replica's once it has replayed all the
   * primary had written when the build started (so the request's own audit entry and
   * every change committed before it are in), else the primary's (ReplicaReads.readCurrent).
   */
  build(
    row: Pick<CaseExportEntity, 'id' | 'caseId' | 'requestedBy'>,
    onProgress: (percent: number) => Promise<void> | void = () => undefined,
  ): Promise<BuiltBundle> {
    return this.replica.readCurrent((db) => this.buildFrom(db, row, onProgress));
  }

  private async buildFrom(
    db: EntityManager,
    row: Pick<CaseExportEntity, 'id' | 'caseId' | 'requestedBy'>,
    onProgress: (percent: number) => Promise<void> | void,
  ): Promise<BuiltBundle> {
    const kase = await this.repository.findCase(db, row.caseId);
    if (!kase || kase.deletedAt) throw new ExportSourceGoneError('The case no longer exists');
    const requester = await this.repository.findUser(db, row.requestedBy);
    const auditHead = await this.repository.auditHead(db);
    const { keyId } = await this.keys.currentPublicKey();

    const audio = await this.repository.audio(db, row.caseId);
    // Deleted files are only listed in case.json; every other one's bytes go in the bundle.
    const stored = await Promise.all(
      audio.map(async (file) => (file.deletedAt ? null : this.storage.head(file.storageKey))),
    );
    const missing = audio.find((file, i) => !file.deletedAt && !stored[i]);
    if (missing) throw new ExportAudioMissingError(missing.id);
    const audioBytes = stored.reduce((sum, object) => sum + (object?.size ?? 0), 0);

    const key = exportBundleKey(row.id);
    const writer = new ArchiveWriter(this.clock);
    const counter = new ByteCounter();
    const uploaded = Promise.all([
      pipeline(writer.pack, counter),
      this.storage.put(key, counter, { contentType: 'application/x-tar' }),
    ]).catch((error: Error) => {
      writer.abort(error);
      throw error;
    });
    uploaded.catch(() => undefined);
    const spoolDir = await mkdtemp(join(tmpdir(), 'verbatim-export-'));
    let spooled = 0;
    const files: ManifestFile[] = [];
    const add = async (
      path: string,
      size: number,
      body: AsyncIterable<Buffer> | Iterable<Buffer>,
      onBytes?: (bytes: number) => void,
    ) => {
      files.push({ path, size, sha256: await writer.add(path, size, body, onBytes) });
    };
    const addSpooled = async (path: string, chunks: AsyncIterable<string>) => {
      const file = join(spoolDir, `${(spooled += 1)}.part`);
      await pipeline(Readable.from(chunks), createWriteStream(file, { flags: 'wx' }));
      const { size } = await stat(file);
      await add(path, size, createReadStream(file, { highWaterMark: 1 << 20 }));
    };

    try {
      const audioPaths = audio.map((file, i) =>
        stored[i] ? `audio/${file.id}${extensionOfKey(file.storageKey) || '.bin'}` : null,
      );
      const participants = await this.repository.participants(db, row.caseId);
      await add(
        'case.json',
        ...sized(
          json({
            case: kase,
            participants: participants.map(({ userId, role }) => ({ userId, role })),
            audio: audio.map((file, i) => ({
              id: file.id,
              entry: audioPaths[i],
              originalName: file.originalName,
              mimeType: file.mimeType,
              sizeBytes: file.sizeBytes,
              durationSeconds: file.durationSeconds,
              sha256: file.sha256,
              status: file.status,
              language: file.language,
              isArchived: file.isArchived,
              archivedAt: file.archivedAt,
              deletedAt: file.deletedAt,
              uploadedBy: file.uploadedBy,
              createdAt: file.createdAt,
            })),
          }),
        ),
      );
      await add('notes.json', ...sized(json(await this.repository.notes(db, row.caseId))));

      let audioDone = 0;
      for (const [i, file] of audio.entries()) {
        const path = audioPaths[i];
        if (!path) continue;
        const body = await this.storage.get(file.storageKey).catch((error: unknown) => {
          // Moved or removed since the head above.
          throw error instanceof StorageNotFoundError
            ? new ExportAudioMissingError(file.id)
            : error;
        });
        try {
          await add(path, stored[i]!.size, body as AsyncIterable<Buffer>, (bytes) => {
            audioDone += bytes;
          });
        } finally {
          // A failed add may not have read it: an S3 body left open holds its socket.
          body.destroy();
        }
        await onProgress(Math.min(90, Math.floor((audioDone / Math.max(audioBytes, 1)) * 90)));
      }

      for (const ref of await this.repository.transcriptionVersions(db, row.caseId)) {
        const version = await this.repository.transcription(db, ref.id);
        if (version) {
          await add(
            `transcriptions/${ref.audioFileId}/v${ref.version}.json`,
            ...sized(json(version)),
          );
        }
      }
      const analyses = await this.repository.analysisVersions(
        db,
        audio.map((file) => file.id),
      );
      for (const ref of analyses) {
        const version = await this.repository.analysis(db, ref.id);
        if (version) {
          await add(`analysis/${ref.audioFileId}/v${ref.version}.json`, ...sized(json(version)));
        }
      }
      for (const conversation of await this.repository.conversations(db, row.caseId)) {
        await addSpooled(
          `conversations/${conversation.id}.json`,
          this.conversationJson(db, conversation),
        );
      }
      await addSpooled('audit.jsonl', this.auditLines(db, row.caseId, auditHead?.id ?? '0'));

      const manifest: ExportManifest = {
        format: BUNDLE_FORMAT,
        formatVersion: BUNDLE_FORMAT_VERSION,
        exportId: row.id,
        caseId: row.caseId,
        generatedAt: this.clock.now().toISOString(),
        generatedBy: { id: row.requestedBy, username: requester?.username ?? '' },
        keyId,
        auditHead,
        files,
      };
      const manifestBytes = json(manifest);
      const signed = await this.keys.sign(manifestBytes);
      if (signed.keyId !== keyId)
        throw new Error('The signing key changed while the bundle was built');
      await writer.add(MANIFEST_ENTRY, manifestBytes.length, [manifestBytes]);
      const signature = Buffer.from(signed.signature, 'ascii');
      await writer.add(SIGNATURE_ENTRY, signature.length, [signature]);
      writer.finalize();
      await uploaded;
      await onProgress(100);
      return {
        storageKey: key,
        sizeBytes: counter.bytes,
        manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
        keyId,
        entryCount: files.length,
      };
    } catch (error) {
      writer.abort(error instanceof Error ? error : new Error(String(error)));
      await uploaded.catch(() => undefined);
      await this.storage.delete(key).catch(() => undefined);
      throw error;
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  }

  private async *conversationJson(
    db: EntityManager,
    conversation: Awaited<ReturnType<ExportsRepository['conversations']>>[number],
  ): AsyncGenerator<string> {
    // Never loaded (select: false), and never exported even if it were.
    const fields = { ...conversation, joinPasswordHash: undefined };
    yield `{\n"conversation": ${JSON.stringify(fields)},\n"sealHash": ${JSON.stringify(conversation.sealHash)},\n"turns": [`;
    let after = 0;
    let first = true;
    for (;;) {
      const page = await this.repository.turns(db, conversation, after, PAGE);
      for (const turn of page) {
        yield `${first ? '\n' : ',\n'}${JSON.stringify(turn)}`;
        first = false;
      }
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1]!.messageNumber);
    }
    yield `${first ? '' : '\n'}]\n}\n`;
  }

  /** One line per entry, as stored: with prevHash and hash, so each line's hash can be recomputed. */
  private async *auditLines(
    db: EntityManager,
    caseId: string,
    upTo: string,
  ): AsyncGenerator<string> {
    let after = '0';
    for (;;) {
      const page = await this.repository.auditEntries(db, caseId, after, upTo, PAGE);
      for (const entry of page) {
        yield `${JSON.stringify({ ...entry, details: JSON.parse(entry.details) as unknown })}\n`;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
  }
}

function sized(content: Buffer): [number, Buffer[]] {
  return [content.length, [content]];
}

/** Passes the tar through to storage, counting its bytes. */
class ByteCounter extends Transform {
  bytes = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}
