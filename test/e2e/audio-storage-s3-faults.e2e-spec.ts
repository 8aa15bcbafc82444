import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3StorageDriver } from '../../src/core/storage/s3-storage.driver';
import { loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { createCase, downloadAudio, startAudioApp, uploadAudio, wavBuffer } from '../support/audio';
import { filesUnder } from '../support/audio-storage-suite';
import { driverSettings, TestS3 } from '../support/s3';
import { S3FaultProxy, startUnacceptingPort } from '../support/s3-fault-proxy';
import { startS3Process } from '../support/s3-process';

/** Short timeouts: each S3 call is tried 3 times, so a call fails within ~3 * 1 s + backoff. */
const TIMEOUTS = { connectTimeoutMs: 300, socketTimeoutMs: 1000 };
const BOUND_MS = 8_000;
const MiB = 1024 * 1024;

const settingsFor = (endpoint: string) => ({
  bucket: 'verbatim-test',
  region: 'us-east-1',
  endpoint,
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
  forcePathStyle: true,
  ...TIMEOUTS,
});

const caseKey = (): string => `cases/${randomUUID()}/${randomUUID()}.wav`;

/** `count` bytes in 1 MiB chunks, then (optionally) an error instead of the end. */
function source(count: number, failWith?: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= count) {
        if (failWith) this.destroy(failWith);
        else this.push(null);
        return;
      }
      const chunk = Buffer.alloc(Math.min(MiB, count - sent), sent / MiB);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** Resolves to how long `call` took to reject, and with what. */
async function rejection(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
  throw new Error('expected a rejection');
}

describe('S3 storage against endpoints that do not answer (bounded timeouts)', () => {
  const calls = (driver: S3StorageDriver): [string, () => Promise<unknown>][] => {
    const key = caseKey();
    return [
      ['head', () => driver.head(key)],
      ['get', () => driver.get(key)],
      ['put (one part)', () => driver.put(key, source(1000))],
      ['put (multipart)', () => driver.put(key, source(20 * MiB))],
      ['copy', () => driver.copy(key, caseKey())],
      ['delete', () => driver.delete(key)],
      ['ping', () => driver.ping()],
    ];
  };

  it('a server that accepts connections and never answers: every call fails in time', async () => {
    const silent = await S3FaultProxy.start('http://127.0.0.1:9');
    silent.set('silent');
    const driver = new S3StorageDriver(settingsFor(silent.endpoint));
    try {
      const outcomes = await Promise.all(
        calls(driver).map(async ([name, call]) => ({ name, ...(await rejection(call)) })),
      );
      for (const { name, ms, error } of outcomes) {
        expect({ name, error: (error as Error).name }).toEqual({
          name,
          error: 'StorageUnavailableError',
        });
        expect((error as Error).message).toMatch(/timed out after 1000 ms of inactivity/);
        expect(ms).toBeLessThan(BOUND_MS);
      }
    } finally {
      driver.destroy();
      await silent.close();
    }
  }, 30_000);

  it('a port that never completes a connection: every call fails in time', async () => {
    const port = await startUnacceptingPort();
    const driver = new S3StorageDriver(settingsFor(`http://127.0.0.1:${port.port}`));
    try {
      const outcomes = await Promise.all(
        calls(driver).map(async ([name, call]) => ({ name, ...(await rejection(call)) })),
      );
      for (const { name, ms, error } of outcomes) {
        expect({ name, error: (error as Error).name }).toEqual({
          name,
          error: 'StorageUnavailableError',
        });
        expect((error as Error).message).toMatch(/did not establish a connection/);
        expect(ms).toBeLessThan(BOUND_MS);
      }
    } finally {
      driver.destroy();
      await port.stop();
    }
  }, 30_000);
});

describe('S3 storage behind a failing network (s3rver in its own process)', () => {
  let s3: TestS3;
  let proxy: S3FaultProxy;
  let driver: S3StorageDriver;
  let t: TestApp & { storageRoot: string };
  let worker: Session;

  beforeAll(async () => {
    s3 = await startS3Process();
    proxy = await S3FaultProxy.start(s3.env.S3_ENDPOINT!);
    driver = new S3StorageDriver(driverSettings(s3, { endpoint: proxy.endpoint, ...TIMEOUTS }));
    t = await startAudioApp('s3-faults', {
      ...s3.env,
      S3_ENDPOINT: proxy.endpoint,
      S3_CONNECT_TIMEOUT_MS: String(TIMEOUTS.connectTimeoutMs),
      S3_SOCKET_TIMEOUT_MS: String(TIMEOUTS.socketTimeoutMs),
    });
    const admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterEach(() => proxy.set('pass'));
  afterAll(async () => {
    driver.destroy();
    await t.close();
    await proxy.close();
    await s3.stop();
  });

  const rowsOf = async (caseId: string): Promise<number> =>
    (
      await t.db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM audio_files WHERE case_id = $1',
        [caseId],
      )
    )[0]!.n;
  const storedUnder = async (caseId: string): Promise<string[]> =>
    (await filesUnder(s3.directory)).filter((f) => f.includes(caseId));
  /** Ids of the multipart uploads the proxy saw started and aborted. */
  const multipart = () => ({
    aborted: proxy.requests
      .filter((r) => r.startsWith('DELETE ') && r.includes('uploadId='))
      .map((r) => /uploadId=([^&\s]+)/.exec(r)![1]),
    parts: proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('partNumber=')),
  });

  it('a black-holed S3: download and upload answer 503 problem+json in time and change nothing', async () => {
    const caseId = await createCase(t.http, worker.auth);
    const wav = wavBuffer(2);
    const stored = await uploadAudio(t, worker.auth, caseId, { content: wav });
    expect(stored.status).toBe(201);
    const id = stored.body.id as string;
    const audits = async () =>
      (
        await t.db.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM audit_logs WHERE resource_id = $1 OR case_id = $2`,
          [id, caseId],
        )
      )[0]!.n;
    const auditsBefore = await audits();
    const filesBefore = await storedUnder(caseId);

    proxy.set('silent');
    let started = Date.now();
    const download = await downloadAudio(t, worker.auth, id);
    const downloadMs = Date.now() - started;
    expect(downloadMs).toBeLessThan(BOUND_MS);
    expect(download.status).toBe(503);
    expect(download.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(download.body!.toString('utf8'))).toMatchObject({
      status: 503,
      type: expect.stringMatching(/dependency-unavailable$/),
    });

    started = Date.now();
    const upload = await uploadAudio(t, worker.auth, caseId, { content: wavBuffer(1) });
    // One failed call's time, like the download's: the clean-up delete of the refused
    // upload runs on without holding the answer (it used to double it).
    const uploadMs = Date.now() - started;
    expect(uploadMs).toBeLessThan(BOUND_MS);
    expect(uploadMs).toBeLessThan(downloadMs * 1.6 + 500);
    expect(upload.status).toBe(503);
    expect(upload.headers['content-type']).toMatch(/application\/problem\+json/);

    proxy.set('pass');
    expect(await rowsOf(caseId)).toBe(1);
    expect(await audits()).toBe(auditsBefore);
    expect(await storedUnder(caseId)).toEqual(filesBefore);
    const again = await downloadAudio(t, worker.auth, id);
    expect({ status: again.status, size: again.size }).toEqual({ status: 200, size: wav.length });
  }, 60_000);

  it('a socket cut on every try of part 2: the put fails, the multipart upload is aborted, nothing is stored', async () => {
    proxy.set('cut-part-2');
    proxy.requests.length = 0;
    const key = caseKey();
    const { error } = await rejection(() => driver.put(key, source(20 * MiB)));
    expect(error).toMatchObject({ name: 'StorageUnavailableError' });
    expect(proxy.cuts).toBeGreaterThanOrEqual(1);
    const { aborted } = multipart();
    expect(aborted).toHaveLength(1);
    proxy.set('pass');
    expect(await driver.head(key)).toBeNull();
  }, 60_000);

  it('the same through HTTP: 503, no row, no object, the multipart upload aborted', async () => {
    const caseId = await createCase(t.http, worker.auth);
    proxy.set('cut-part-2');
    proxy.requests.length = 0;
    const response = await uploadAudio(t, worker.auth, caseId, { content: wavBuffer(1100) }); // 17.6 MB
    expect(response.status).toBe(503);
    expect(multipart().aborted).toHaveLength(1);
    proxy.set('pass');
    expect(await rowsOf(caseId)).toBe(0);
    expect(await storedUnder(caseId)).toEqual([]);
  }, 60_000);

  it('a source that fails mid-way: its own error, the multipart upload aborted, nothing stored', async () => {
    proxy.requests.length = 0;
    const key = caseKey();
    const broken = new Error('client went away');
    const { error } = await rejection(() => driver.put(key, source(20 * MiB, broken)));
    expect(error).toBe(broken);
    const { aborted, parts } = multipart();
    expect(parts.length).toBeGreaterThanOrEqual(1);
    expect(aborted).toHaveLength(1);
    expect(await driver.head(key)).toBeNull();
  }, 60_000);

  it('a slow but steady download is not cut by the socket timeout', async () => {
    const caseId = await createCase(t.http, worker.auth);
    const wav = wavBuffer(300); // 4.8 MB
    const id = (await uploadAudio(t, worker.auth, caseId, { content: wav })).body.id as string;
    const { storageKey } = (await t.http.get(`/api/v1/audio/${id}`).set(worker.auth).expect(200))
      .body as { storageKey: string };
    // One chunk every 60 ms: several seconds in all, several times the socket timeout.
    let size = 0;
    const started = Date.now();
    for await (const chunk of await driver.get(storageKey)) {
      size += (chunk as Buffer).length;
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(size).toBe(wav.length);
    expect(Date.now() - started).toBeGreaterThan(2 * TIMEOUTS.socketTimeoutMs);
  }, 60_000);
});
