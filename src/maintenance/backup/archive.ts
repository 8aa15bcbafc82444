import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { isValidKey } from '../../core/storage/storage-keys';

/**
 * Layout of a backup archive (a tar, gzipped when its name ends in .gz / .tgz):
 *
 *   database.dump         pg_dump --format=custom of the whole database
 *   objects/<key>         every stored object, under its storage key
 *   manifest.json         written last, once every sha256 is known
 *
 * The manifest comes last so the backup reads each object exactly once; restore reads
 * the archive twice instead (a verification pass, then the restore), which costs a
 * local re-read but means a damaged archive is refused before anything is changed.
 */
export const DUMP_ENTRY = 'database.dump';
export const OBJECTS_DIR = 'objects/';
export const MANIFEST_ENTRY = 'manifest.json';
export const ARCHIVE_FORMAT = 'verbatim-backup';
export const ARCHIVE_FORMAT_VERSION = 1;

export interface ManifestObject {
  key: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: typeof ARCHIVE_FORMAT_VERSION;
  createdAt: string;
  appVersion: string;
  /** Names of the migrations applied to the dumped database, oldest first. */
  migrations: string[];
  database: {
    entry: typeof DUMP_ENTRY;
    format: 'pg_dump custom';
    serverVersion: string;
    size: number;
    sha256: string;
  };
  storage: { driver: 'local' | 's3'; totalBytes: number };
  objectCount: number;
  objects: ManifestObject[];
}

/** The archive is unreadable, truncated, or does not match its manifest. */
export class ArchiveDamagedError extends Error {
  constructor(detail: string) {
    super(`The backup archive is damaged or incomplete: ${detail}`);
    this.name = 'ArchiveDamagedError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
const isSize = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Parses and checks manifest.json; every field restore relies on is validated. */
export function parseManifest(text: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ArchiveDamagedError('manifest.json is not JSON');
  }
  const m = value as Partial<BackupManifest> | null;
  if (m?.format !== ARCHIVE_FORMAT) {
    throw new ArchiveDamagedError('manifest.json is not a Verbatim backup manifest');
  }
  if (m.formatVersion !== ARCHIVE_FORMAT_VERSION) {
    throw new ArchiveDamagedError(
      `format version ${String(m.formatVersion)} is not supported (this version reads ${ARCHIVE_FORMAT_VERSION})`,
    );
  }
  const objects = m.objects;
  if (
    typeof m.createdAt !== 'string' ||
    typeof m.appVersion !== 'string' ||
    !Array.isArray(m.migrations) ||
    !m.migrations.every((name) => typeof name === 'string') ||
    !m.database ||
    !isSize(m.database.size) ||
    !SHA256.test(String(m.database.sha256)) ||
    !Array.isArray(objects) ||
    m.objectCount !== objects.length
  ) {
    throw new ArchiveDamagedError('manifest.json misses required fields');
  }
  const seen = new Set<string>();
  for (const object of objects) {
    if (
      typeof object?.key !== 'string' ||
      !isValidKey(object.key) ||
      !isSize(object.size) ||
      !SHA256.test(String(object.sha256)) ||
      seen.has(object.key)
    ) {
      throw new ArchiveDamagedError(
        `manifest.json lists an invalid object ${JSON.stringify(object)}`,
      );
    }
    seen.add(object.key);
  }
  return m as BackupManifest;
}

/** True when the file starts with the gzip magic bytes (whatever its name says). */
export async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

export interface ArchiveEntry {
  name: string;
  size: number;
  /** The entry's bytes; read it to the end (or throw) before asking for the next entry. */
  body: AsyncIterable<Buffer>;
}

/**
 * The entries of an archive on disk, one at a time, streamed: the file is read as the
 * entries are consumed (tar-stream applies backpressure), never loaded whole.
 * `onBytes` reports bytes of the file read so far, for a progress bar.
 */
export async function* readArchive(
  path: string,
  onBytes: (bytes: number) => void = () => undefined,
): AsyncGenerator<ArchiveEntry> {
  const gzip = await isGzipFile(path);
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  const extract = tar.extract();
  const fail = (error: Error): void => {
    extract.destroy(
      error instanceof ArchiveDamagedError ? error : new ArchiveDamagedError(error.message),
    );
  };
  input.on('data', (chunk: string | Buffer) => onBytes(chunk.length));
  input.on('error', fail);
  if (gzip) {
    const gunzip = createGunzip();
    gunzip.on('error', fail);
    input.pipe(gunzip).pipe(extract);
  } else {
    input.pipe(extract);
  }
  try {
    for await (const entry of extract) {
      const { name, size, type } = entry.header;
      if (type !== 'file') throw new ArchiveDamagedError(`unexpected ${type} entry ${name}`);
      yield { name, size, body: damagedOnError(entry as AsyncIterable<Buffer>) };
    }
  } catch (error) {
    if (error instanceof ArchiveDamagedError) throw error;
    throw new ArchiveDamagedError((error as Error).message);
  } finally {
    input.destroy();
  }
}

/** A truncated or corrupt archive fails while an entry is read, too: say so. */
async function* damagedOnError(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* body;
  } catch (error) {
    if (error instanceof ArchiveDamagedError) throw error;
    throw new ArchiveDamagedError((error as Error).message);
  }
}

/** sha256 and length of an entry's bytes, read to the end. */
export async function digestOf(
  body: AsyncIterable<Buffer>,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Passes an entry's bytes through, failing at the end when they do not match the
 * manifest: a storage `put` of this stream then fails and stores nothing.
 */
export async function* verified(
  body: AsyncIterable<Buffer>,
  expected: { name: string; size: number; sha256: string },
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > expected.size) break;
    hash.update(chunk);
    yield chunk;
  }
  if (size !== expected.size || hash.digest('hex') !== expected.sha256) {
    throw new ArchiveDamagedError(`${expected.name} does not match the sha256 in the manifest`);
  }
}

export { ArchiveWriter } from '../../core/archive/archive-writer';
