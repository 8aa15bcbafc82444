import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CompletedPart,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import {
  ByteRange,
  LeftoversUnsupportedError,
  ListedObject,
  StorageDriver,
  StorageNotFoundError,
  StoredObject,
  StorageUnavailableError,
  UploadLeftover,
} from './storage-driver';
import { assertValidKey, assertValidPrefix, isValidKey } from './storage-keys';

export interface S3Settings {
  bucket: string;
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** A connection to S3 not established within this long fails the request. */
  connectTimeoutMs: number;
  /** A request whose socket sends and receives nothing for this long fails. */
  socketTimeoutMs: number;
}

/** Multipart part size: S3's minimum is 5 MiB (all parts but the last). */
const PART_SIZE = 8 * 1024 * 1024;
/** Part buffers of one upload: one part sends while the next fills, or both send. */
const PARTS_IN_FLIGHT = 2;
/** Part buffers kept between uploads: two uploads' worth. */
const POOLED_BUFFERS = 2 * PARTS_IN_FLIGHT;

/**
 * Part-sized buffers reused within an upload and from one upload to the next. A fresh
 * buffer per part (what lib-storage's Upload did, concatenating the stream's chunks) is
 * garbage the collector reclaims late: one 200 MB upload grew the process's RSS by
 * 56-82 MiB. Copying the chunks into the same two buffers keeps it near 16 MiB.
 */
class PartBuffers {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(PART_SIZE);
  }

  give(buffer: Buffer): void {
    if (this.free.length < POOLED_BUFFERS) this.free.push(buffer);
  }
}

/** Reads a byte stream into caller-provided buffers, one part at a time. */
class PartReader {
  private pending: Buffer | undefined;
  private ended = false;
  private stopped = false;

  constructor(private readonly source: AsyncIterator<unknown>) {}

  private async next(): Promise<Buffer | undefined> {
    if (this.pending) {
      const chunk = this.pending;
      this.pending = undefined;
      return chunk;
    }
    if (this.ended || this.stopped) return undefined;
    const result = await this.source.next();
    if (result.done || this.stopped) {
      this.ended = true;
      return undefined;
    }
    const value: unknown = result.value;
    return Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array | string);
  }

  /** Reads nothing more: a fill in progress ends at its current chunk. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Fills `target` from its start; `last` is true when the stream has nothing after
   * these bytes (found by reading one chunk ahead).
   */
  async fill(target: Buffer): Promise<{ length: number; last: boolean }> {
    let length = 0;
    while (length < target.length) {
      const chunk = await this.next();
      if (!chunk) return { length, last: true };
      const copied = chunk.copy(target, length);
      length += copied;
      if (copied < chunk.length) this.pending = chunk.subarray(copied);
    }
    const ahead = await this.next();
    if (ahead) this.pending = ahead;
    return { length, last: !ahead };
  }
}

function isNotFound(error: unknown): boolean {
  if (error instanceof S3ServiceException) {
    return (
      error.$metadata.httpStatusCode === 404 ||
      error.name === 'NotFound' ||
      error.name === 'NoSuchKey'
    );
  }
  return false;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Also in a message: the SDK's retry layer re-wraps a socket error that fails its
 * `instanceof Error` (another realm, as under Jest) into a plain Error naming it.
 */
const UNREACHABLE_MESSAGE =
  /\b(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|TimeoutError)\b|socket hang up/;

/**
 * S3 could not be reached, went silent past a timeout or answered 5xx, each after the
 * SDK's retries. Checked by shape: Node's socket errors may come from another realm.
 */
function isUnreachable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  if (error instanceof S3ServiceException) return (error.$metadata.httpStatusCode ?? 0) >= 500;
  return (
    name === 'TimeoutError' ||
    (typeof code === 'string' && UNREACHABLE_CODES.has(code)) ||
    (typeof message === 'string' && UNREACHABLE_MESSAGE.test(message))
  );
}

/** What a failed S3 call is thrown as: not found and unreachable get the storage errors. */
function storageError(error: unknown, key?: string): unknown {
  if (key !== undefined && isNotFound(error)) return new StorageNotFoundError(key);
  if (isUnreachable(error)) return new StorageUnavailableError(error);
  return error;
}

function isNotImplemented(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.$metadata.httpStatusCode === 501 || error.name === 'NotImplemented')
  );
}

/**
 * A bucket on AWS S3 or an S3-compatible server (MinIO). Large uploads go up as a
 * multipart upload streamed part by part; reads stream the response body.
 */
export class S3StorageDriver implements StorageDriver {
  readonly type = 's3' as const;
  /** Keys per ListObjectsV2 page (S3's maximum is 1000); lowered by tests to see paging. */
  listPageSize = 1000;
  private readonly client: S3Client;
  private readonly parts = new PartBuffers();

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.accessKeyId && settings.secretAccessKey
        ? {
            credentials: {
              accessKeyId: settings.accessKeyId,
              secretAccessKey: settings.secretAccessKey,
            },
          }
        : {}),
      // connectionTimeout bounds the TCP connect; socketTimeout fails a request whose socket
      // is silent for that long (a black-holed endpoint), including while a response body
      // streams. requestTimeout is not used: it counts from the start of the request until
      // the response headers, which for an 8 MiB part depends on the uplink.
      requestHandler: {
        connectionTimeout: settings.connectTimeoutMs,
        socketTimeout: settings.socketTimeoutMs,
      },
      // Content is verified by our own sha256. The SDK's default CRC trailers use
      // aws-chunked encoding that several S3-compatible servers do not understand.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /**
   * One PutObject for a body of at most one part; otherwise a multipart upload whose parts
   * are copied into PARTS_IN_FLIGHT pooled buffers: memory stays at PARTS_IN_FLIGHT *
   * PART_SIZE whatever the file size. Any failure (the source stream, a part, the
   * completion) aborts the multipart upload, so nothing is stored under `key` and no parts
   * are left behind (unless S3 cannot be reached to abort: then `leftovers` finds them).
   */
  async put(key: string, body: Readable, options: { contentType?: string } = {}): Promise<void> {
    assertValidKey(key);
    const bucket = this.settings.bucket;
    const contentType = options.contentType;
    // The first failure (the source stream, a part) stops everything else at once: the
    // requests in flight and the wait for the next part's bytes.
    const stop = new AbortController();
    let failure: unknown;
    const fail = (error: unknown) => {
      failure ??= error;
      stop.abort(error);
    };
    const stopped = new Promise<never>((_, reject) =>
      stop.signal.addEventListener(
        'abort',
        () => reject(failure instanceof Error ? failure : new Error(String(failure))),
        { once: true },
      ),
    );
    stopped.catch(() => undefined);
    let sourceFailed = false;
    const failSource = (error: unknown) => {
      sourceFailed ||= failure === undefined;
      fail(error);
    };
    body.once('error', failSource);
    const reader = new PartReader(body[Symbol.asyncIterator]());
    const fill = (buffer: Buffer) => Promise.race([reader.fill(buffer), stopped]);
    const sendOptions = { abortSignal: stop.signal };
    const held: Buffer[] = [];
    const take = () => {
      const buffer = this.parts.take();
      held.push(buffer);
      return buffer;
    };
    const sending = new Map<number, Promise<void>>();
    let uploadId: string | undefined;
    try {
      let buffer = take();
      let { length, last } = await fill(buffer);
      if (last) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: buffer.subarray(0, length),
            ContentLength: length,
            ContentType: contentType,
          }),
          sendOptions,
        );
      } else {
        const created = await this.client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
          sendOptions,
        );
        uploadId = created.UploadId;
        if (!uploadId) throw new Error('S3 returned no multipart upload id');
        const completed: CompletedPart[] = [];
        const free: Buffer[] = [];
        for (let partNumber = 1; ; partNumber++) {
          const part = buffer;
          const sent = this.client
            .send(
              new UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: partNumber,
                Body: part.subarray(0, length),
                ContentLength: length,
              }),
              sendOptions,
            )
            .then(({ ETag }) => {
              if (!ETag) throw new Error(`S3 returned no ETag for part ${partNumber}`);
              completed.push({ PartNumber: partNumber, ETag });
              sending.delete(partNumber);
              free.push(part);
            });
          sent.catch(fail);
          sending.set(partNumber, sent);
          if (last) break;
          if (sending.size >= PARTS_IN_FLIGHT) await Promise.race(sending.values());
          buffer = free.pop() ?? take();
          ({ length, last } = await fill(buffer));
        }
        await Promise.all(sending.values());
        await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: completed.sort((a, b) => a.PartNumber! - b.PartNumber!) },
          }),
          sendOptions,
        );
      }
    } catch (error) {
      fail(error);
      reader.stop();
      // Parts still arriving after the abort would be kept by S3: abort once they settled.
      await Promise.allSettled(sending.values());
      if (uploadId) await this.abortUpload(key, uploadId);
      // The source's own error (a client gone, a size limit) is the caller's to read.
      throw sourceFailed ? failure : storageError(failure);
    } finally {
      body.off('error', failSource);
    }
    // Only now: the buffers of a failed upload may still be referenced by a cut request.
    for (const buffer of held) this.parts.give(buffer);
  }

  /** Best effort: what it cannot abort, `leftovers` finds later. */
  private async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.removeLeftover({ id: uploadId, key, startedAt: new Date() }).catch(() => undefined);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.settings.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!(response.Body instanceof Readable)) throw new Error('S3 returned no stream');
      return response.Body;
    } catch (error) {
      throw storageError(error, key);
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    assertValidKey(key);
    try {
      const response = await this.client.send(
        new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }),
      );
      return { size: response.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw storageError(error);
    }
  }

  /** Single-request copy: S3 allows up to 5 GiB, above AUDIO_MAX_BYTES' sane range. */
  async copy(from: string, to: string): Promise<void> {
    assertValidKey(from);
    assertValidKey(to);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.settings.bucket,
          Key: to,
          CopySource: `${this.settings.bucket}/${from}`,
        }),
      );
    } catch (error) {
      throw storageError(error, from);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }))
      .catch((error: unknown) => {
        throw storageError(error);
      });
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: prefix || undefined,
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
        )
        .catch((error: unknown) => {
          throw storageError(error);
        });
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && isValidKey(object.Key)) {
          yield {
            key: object.Key,
            size: object.Size ?? 0,
            modifiedAt: object.LastModified ?? new Date(0),
          };
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *leftovers(before: Date): AsyncIterable<UploadLeftover> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.settings.bucket,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (error) {
        if (isNotImplemented(error)) throw new LeftoversUnsupportedError('this S3 server');
        throw storageError(error);
      }
      for (const upload of page.Uploads ?? []) {
        const startedAt = upload.Initiated ?? new Date(0);
        if (upload.Key && upload.UploadId && startedAt < before) {
          yield { id: upload.UploadId, key: upload.Key, startedAt };
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
  }

  async removeLeftover(leftover: UploadLeftover): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.settings.bucket,
          Key: leftover.key,
          UploadId: leftover.id,
        }),
      );
    } catch (error) {
      if (!isNotFound(error) && (error as { name?: string }).name !== 'NoSuchUpload') {
        throw storageError(error);
      }
    }
  }

  /** Readiness: the bucket answers. */
  async ping(): Promise<void> {
    await this.client
      .send(new HeadBucketCommand({ Bucket: this.settings.bucket }))
      .catch((error: unknown) => {
        throw storageError(error);
      });
  }

  destroy(): void {
    this.client.destroy();
  }
}
