import type { Readable } from 'node:stream';

/** Inclusive byte range, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredObject {
  size: number;
}

/** One object found by `list`. */
export interface ListedObject extends StoredObject {
  key: string;
  /** When it was last written. */
  modifiedAt: Date;
}

/**
 * What an interrupted write left behind: a temporary file of the local driver, an
 * unfinished multipart upload of S3. Never readable under a real key; only takes space.
 */
export interface UploadLeftover {
  /** The temporary file's path under the root, or the multipart upload's id. */
  id: string;
  /** The key the write was for. */
  key: string;
  startedAt: Date;
}

/**
 * Where audio bytes live: a directory (`local`) or a bucket (`s3`), behind the same keys.
 * Keys are built by the server only (see storage-keys.ts); drivers still refuse keys
 * that are not of that shape. Every method streams: no object is ever held in memory.
 */
export interface StorageDriver {
  readonly type: 'local' | 's3';
  /** Writes the stream under `key`; on failure nothing is left under `key`. */
  put(key: string, body: Readable, options?: { contentType?: string }): Promise<void>;
  /** The object's bytes, or a slice of them. Rejects with StorageNotFoundError when absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size of the object, or null when there is none. */
  head(key: string): Promise<StoredObject | null>;
  /** Server-side copy; overwrites `to`. */
  copy(from: string, to: string): Promise<void>;
  /** Idempotent: deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix` ('' for all), one at a time: a
   * directory or a page of the bucket listing at a time, never everything at once.
   * Only keys of the shapes in storage-keys.ts are yielded: anything else in the root
   * or bucket (a write still in progress, a file someone put there) is not this
   * service's data. The order is unspecified.
   */
  list(prefix: string): AsyncIterable<ListedObject>;
  /**
   * Leftovers of writes started before `before`. Rejects with LeftoversUnsupportedError
   * where the backend cannot list them (some S3-compatible servers).
   */
  leftovers(before: Date): AsyncIterable<UploadLeftover>;
  /** Removes one leftover; idempotent. */
  removeLeftover(leftover: UploadLeftover): Promise<void>;
}

export const STORAGE = Symbol('STORAGE');

export class StorageNotFoundError extends Error {
  constructor(key: string) {
    super(`No stored object at ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

export class InvalidStorageKeyError extends Error {
  constructor(key: string) {
    super(`Refused storage key ${JSON.stringify(key.slice(0, 200))}`);
    this.name = 'InvalidStorageKeyError';
  }
}

export class LeftoversUnsupportedError extends Error {
  constructor(backend: string) {
    super(`${backend} cannot list unfinished uploads`);
    this.name = 'LeftoversUnsupportedError';
  }
}

/**
 * The storage backend could not be reached or did not answer in time (after the client's
 * own retries): the request may succeed later. Answered 503 over HTTP.
 */
export class StorageUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`Storage is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'StorageUnavailableError';
  }
}
