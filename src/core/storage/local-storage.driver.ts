import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, opendir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ByteRange,
  InvalidStorageKeyError,
  ListedObject,
  StorageDriver,
  StorageNotFoundError,
  StoredObject,
  UploadLeftover,
} from './storage-driver';
import { assertValidKey, assertValidPrefix, isValidKey } from './storage-keys';

/** The suffix of a write in progress (see temporaryPathFor). */
const TEMPORARY = /^(.+)\.partial-[0-9a-f]{12}$/;

const isMissing = (error: unknown): boolean =>
  (error as { code?: unknown } | null)?.code === 'ENOENT';

/**
 * Files under one root directory. Every key is resolved against the root and refused
 * when the result escapes it, whatever the key holds. Writes go to a temporary name
 * beside the target and are renamed into place, so a failed or interrupted write never
 * leaves a partial object under the real key.
 */
export class LocalStorageDriver implements StorageDriver {
  readonly type = 'local' as const;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The absolute path of a key, guaranteed to be inside the root. */
  pathOf(key: string): string {
    assertValidKey(key);
    const path = resolve(this.root, key);
    const rel = relative(this.root, path);
    if (
      rel === '' ||
      rel.startsWith('..') ||
      isAbsolute(rel) ||
      !path.startsWith(this.root + sep)
    ) {
      throw new InvalidStorageKeyError(key);
    }
    return path;
  }

  private temporaryPathFor(path: string): string {
    return `${path}.partial-${randomBytes(6).toString('hex')}`;
  }

  async put(key: string, body: Readable): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = this.temporaryPathFor(path);
    try {
      await pipeline(body, createWriteStream(temporary, { flags: 'wx', highWaterMark: 1 << 20 }));
      await rename(temporary, path);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    const stream = createReadStream(path, {
      ...(range ? { start: range.start, end: range.end } : {}),
      highWaterMark: 1 << 20,
    });
    // Surface a missing file as a rejection here rather than as a stream error later.
    await new Promise<void>((done, fail) => {
      stream.once('open', () => done());
      stream.once('error', (error) =>
        fail(isMissing(error) ? new StorageNotFoundError(key) : error),
      );
    });
    return stream;
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async copy(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    await mkdir(dirname(target), { recursive: true });
    const temporary = this.temporaryPathFor(target);
    try {
      await copyFile(source, temporary);
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      if (isMissing(error)) throw new StorageNotFoundError(from);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertValidPrefix(prefix);
    // Walk only the deepest directory the prefix names; filter the rest by key.
    const directory = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = resolve(this.root, directory);
    if (start !== this.root && !start.startsWith(this.root + sep)) {
      throw new InvalidStorageKeyError(prefix);
    }
    yield* this.walk(start, prefix);
  }

  async *leftovers(before: Date): AsyncIterable<UploadLeftover> {
    for await (const path of this.files(this.root)) {
      const target = TEMPORARY.exec(path)?.[1];
      if (target === undefined) continue;
      try {
        const info = await lstat(path);
        if (info.mtime >= before) continue;
        const key = relative(this.root, target).split(sep).join('/');
        yield { id: relative(this.root, path).split(sep).join('/'), key, startedAt: info.mtime };
      } catch (error) {
        if (!isMissing(error)) throw error; // finished or removed since the listing
      }
    }
  }

  async removeLeftover(leftover: UploadLeftover): Promise<void> {
    const path = resolve(this.root, leftover.id);
    // Only ever a temporary file inside the root.
    if (!path.startsWith(this.root + sep) || !TEMPORARY.test(path)) {
      throw new InvalidStorageKeyError(leftover.id);
    }
    await unlink(path).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  private async *files(directory: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await opendir(directory);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for await (const entry of entries) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) yield* this.files(path);
      else if (entry.isFile()) yield path;
    }
  }

  private async *walk(directory: string, prefix: string): AsyncIterable<ListedObject> {
    let entries;
    try {
      entries = await opendir(directory);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for await (const entry of entries) {
      const path = join(directory, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        // Descend only where keys under the prefix can be.
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) {
          yield* this.walk(path, prefix);
        }
      } else if (entry.isFile() && key.startsWith(prefix) && isValidKey(key)) {
        try {
          const info = await lstat(path);
          yield { key, size: info.size, modifiedAt: info.mtime };
        } catch (error) {
          if (!isMissing(error)) throw error; // deleted since the directory was read
        }
      }
    }
  }
}
