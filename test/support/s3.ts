import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Settings } from '../../src/core/storage/s3-storage.driver';
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
};

export interface TestS3 {
  /** Environment that points the app's S3 driver at this server. */
  env: Record<string, string>;
  directory: string;
  stop(): Promise<void>;
}

/** Settings for an S3StorageDriver built directly (outside an app) against this server. */
export function driverSettings(s3: TestS3, overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    bucket: s3.env.S3_BUCKET!,
    region: s3.env.S3_REGION!,
    endpoint: s3.env.S3_ENDPOINT,
    accessKeyId: s3.env.S3_ACCESS_KEY_ID,
    secretAccessKey: s3.env.S3_SECRET_ACCESS_KEY,
    forcePathStyle: true,
    connectTimeoutMs: 5_000,
    socketTimeoutMs: 30_000,
    ...overrides,
  };
}

/**
 * A real S3-compatible server (s3rver: the S3 REST API over a directory, in this
 * process) on an ephemeral loopback port, with an empty bucket. The S3 driver talks
 * to it through the real AWS SDK over HTTP — signatures, multipart uploads, ranges.
 */
export async function startS3(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'verbatim-s3-'));
  const bucket = 'verbatim-test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = await server.run();
  return {
    directory,
    env: {
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${address.port}`,
      S3_REGION: 'us-east-1',
      S3_BUCKET: bucket,
      // s3rver's fixed development credentials.
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
