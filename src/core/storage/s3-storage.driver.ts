import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import {
  ByteRange,
  LeftoversUnsupportedError,
  ListedObject,
  StorageDriver,
  StorageNotFoundError,
  StoredObject,
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
}

/** 8 MiB parts, two in flight: upload memory stays near 16 MiB whatever the file size. */
const PART_SIZE = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

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
      // Content is verified by our own sha256. The SDK's default CRC trailers use
      // aws-chunked encoding that several S3-compatible servers do not understand.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Readable, options: { contentType?: string } = {}): Promise<void> {
    assertValidKey(key);
    // leavePartsOnError: false aborts the multipart upload, so a failure stores nothing.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.settings.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
      },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    // A source stream that fails must fail the upload, not leave it waiting.
    const failed = new Promise<never>((_, reject) => body.once('error', reject));
    try {
      await Promise.race([upload.done(), failed]);
    } catch (error) {
      await upload.abort().catch(() => undefined);
      throw error;
    }
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
      if (isNotFound(error)) throw new StorageNotFoundError(key);
      throw error;
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
      throw error;
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
      if (isNotFound(error)) throw new StorageNotFoundError(from);
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: prefix || undefined,
          MaxKeys: this.listPageSize,
          ContinuationToken: token,
        }),
      );
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
        throw error;
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
      if (!isNotFound(error) && (error as { name?: string }).name !== 'NoSuchUpload') throw error;
    }
  }

  /** Readiness: the bucket answers. */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
  }

  destroy(): void {
    this.client.destroy();
  }
}
