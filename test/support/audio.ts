import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request as httpRequest, IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import TestAgent from 'supertest/lib/agent';
import { startApp, TestApp } from './app';

/**
 * An app of its own for audio tests: its own storage root and its own Redis prefix, so
 * its in-process workers never take jobs of another spec's app (which may use another
 * storage driver) and vice versa.
 */
export async function startAudioApp(
  label: string,
  env: Record<string, string> = {},
): Promise<TestApp & { storageRoot: string }> {
  const storageRoot = await mkdtemp(join(tmpdir(), `verbatim-storage-${label}-`));
  const app = await startApp({
    STORAGE_LOCAL_ROOT: storageRoot,
    REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-${label}-${randomBytes(3).toString('hex')}`,
    ...env,
  });
  return {
    ...app,
    storageRoot,
    async close() {
      await app.close();
      await rm(storageRoot, { recursive: true, force: true });
    },
  };
}

/** A valid PCM WAV header for `dataBytes` of 16-bit mono samples at `rate` Hz. */
export function wavHeader(dataBytes: number, rate = 8000): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** A small WAV of `seconds` at 8 kHz with random samples (unique content every call). */
export function wavBuffer(seconds = 1, rate = 8000): Buffer {
  const data = randomBytes(seconds * rate * 2);
  return Buffer.concat([wavHeader(data.length, rate), data]);
}

/** Writes a WAV of about `bytes` to a temp file, streaming (never in memory); its sha256. */
export async function writeLargeWav(
  bytes: number,
): Promise<{ path: string; size: number; sha256: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'verbatim-wav-'));
  const path = join(dir, 'large.wav');
  const chunk = 1 << 20;
  const dataBytes = Math.floor((bytes - 44) / chunk) * chunk;
  const seed = randomBytes(chunk);
  const hash = createHash('sha256');
  function* generate(): Generator<Buffer> {
    const header = wavHeader(dataBytes);
    hash.update(header);
    yield header;
    for (let i = 0; i < dataBytes / chunk; i++) {
      const block = Buffer.from(seed);
      block.writeUInt32LE(i, 0); // every block differs
      hash.update(block);
      yield block;
    }
  }
  await pipeline(Readable.from(generate()), createWriteStream(path));
  return { path, size: (await stat(path)).size, sha256: hash.digest('hex') };
}

export function baseUrlOf(t: TestApp): string {
  const address = t.app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

export interface UploadOptions {
  /** File contents: a buffer or a path streamed from disk. */
  content: Buffer | { path: string };
  filename?: string;
  contentType?: string;
  /** Form fields sent before the file, in order. */
  fields?: [string, string][];
  /** Form fields sent after the file. */
  fieldsAfter?: [string, string][];
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * POST multipart/form-data streamed over plain HTTP: the file is never buffered by the
 * client either, so memory measurements see only the server.
 */
export async function uploadAudio(
  t: TestApp,
  auth: Record<string, string>,
  caseId: string,
  options: UploadOptions,
): Promise<RawResponse> {
  const boundary = `----verbatim${randomBytes(8).toString('hex')}`;
  const field = ([name, value]: [string, string]) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const before =
    (options.fields ?? []).map(field).join('') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${options.filename ?? 'audio.wav'}"\r\n` +
    `Content-Type: ${options.contentType ?? 'audio/wav'}\r\n\r\n`;
  const after = `\r\n${(options.fieldsAfter ?? []).map(field).join('')}--${boundary}--\r\n`;
  const size =
    'path' in options.content ? (await stat(options.content.path)).size : options.content.length;
  const length = Buffer.byteLength(before) + size + Buffer.byteLength(after);
  const content = options.content;
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(before);
    if ('path' in content) yield* createReadStream(content.path, { highWaterMark: 1 << 20 });
    else yield content;
    yield Buffer.from(after);
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrlOf(t)}/api/v1/cases/${caseId}/audio`,
      {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(length),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    // The server may answer (413, 415) before it read everything: stop sending then.
    const source = Readable.from(body());
    source.pipe(req);
    req.on('response', () => source.unpipe(req));
  });
}

/** GET the content streaming into a hash: the client holds no copy. */
export function downloadAudio(
  t: TestApp,
  auth: Record<string, string>,
  audioId: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: IncomingHttpHeaders;
  sha256: string;
  size: number;
  body: Buffer | null;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrlOf(t)}/api/v1/audio/${audioId}/content`,
      { method: 'GET', headers: { ...auth, ...headers } },
      (res) => {
        const hash = createHash('sha256');
        let size = 0;
        const keep: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          hash.update(c);
          size += c.length;
          if (size <= 1 << 20) keep.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            sha256: hash.digest('hex'),
            size,
            body: size <= 1 << 20 ? Buffer.concat(keep) : null,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface JobView {
  id: string;
  type: string;
  state: string;
  progress: number;
  result: unknown;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

/** Polls GET /jobs/:id until the job completed or failed for good. */
export async function waitForJob(
  http: TestAgent,
  auth: Record<string, string>,
  jobId: string,
  timeoutMs = 60_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await http.get(`/api/v1/jobs/${jobId}`).set(auth);
    const job = response.body as JobView;
    if (response.status === 200 && (job.state === 'completed' || job.state === 'failed'))
      return job;
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} still ${job.state} (${response.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function createCase(
  http: TestAgent,
  auth: Record<string, string>,
  title = 'Audio case',
): Promise<string> {
  const response = await http.post('/api/v1/cases').set(auth).send({ title }).expect(201);
  return (response.body as { id: string }).id;
}

export function sha256Of(buffer: Buffer): string {
  return createHash('sha256').update(buffer).digest('hex');
}
