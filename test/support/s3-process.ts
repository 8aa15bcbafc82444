import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestS3 } from './s3';

/**
 * Like startS3 (test/support/s3.ts), but s3rver runs in a child process with OpenSSL's
 * legacy provider, which its ListObjectsV2 continuation tokens (DES) need: use this
 * where a listing spans several pages.
 */
export async function startS3Process(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'verbatim-s3p-'));
  const bucket = 'verbatim-test';
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', join(__dirname, 's3rver-process.mjs'), directory, bucket],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`s3rver process exited with ${String(code)}`);
    }),
  ])) as [string];
  const { port } = JSON.parse(first) as { port: number };
  lines.close();
  return {
    directory,
    env: {
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_REGION: 'us-east-1',
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      // Our ends of its pipes: stdout is no longer read after the first line, so it
      // would never see its end and keep the test worker alive.
      child.stdin?.destroy();
      child.stdout?.destroy();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
