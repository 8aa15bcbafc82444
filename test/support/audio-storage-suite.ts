import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { AudioArchiveService, MoveStep } from '../../src/audio-files/audio-archive.service';
import { loginAsAdmin, Session, TestApp, userSession } from './app';
import {
  createCase,
  downloadAudio,
  sha256Of,
  startAudioApp,
  uploadAudio,
  waitForJob,
  wavBuffer,
  writeLargeWav,
} from './audio';
import type { TestS3 } from './s3';
import { startS3Process } from './s3-process';

type Driver = 'local' | 's3';

interface AudioBody {
  id: string;
  caseId: string;
  storageKey: string;
  sha256: string;
  sizeBytes: number;
  status: string;
  isArchived: boolean;
  mimeType: string;
  originalName: string;
  durationSeconds: number | null;
  errorMessage: string | null;
}

/** Every regular file under `dir`, relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push(relative(dir, path));
    }
  }
  await walk(dir);
  return out.sort();
}

/** Bytes start..end (inclusive) of a file, read without loading the rest. */
async function readSlice(path: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(end - start + 1);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** An MP4 box: 32-bit size, type, body. */
export function mp4Box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** Minimal but well-formed headers of the other accepted containers. */
const SAMPLES: Record<string, { bytes: Buffer; mimeType: string; extension: string }> = {
  mp3: {
    // ID3v2 tag (empty) followed by two MPEG-1 layer III frames, 128 kbit/s, 44.1 kHz.
    bytes: Buffer.concat([
      Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'),
      ...[0, 1].map(() =>
        Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(413, 7)]),
      ),
    ]),
    mimeType: 'audio/mpeg',
    extension: '.mp3',
  },
  flac: {
    bytes: (() => {
      const info = Buffer.alloc(4 + 4 + 34);
      info.write('fLaC', 0, 'latin1');
      info[4] = 0x80; // last block, STREAMINFO
      info.writeUIntBE(34, 5, 3);
      info.writeUInt16BE(4096, 8); // minimum and maximum block size
      info.writeUInt16BE(4096, 10);
      // sample rate 8000 Hz (20 bits), mono, 16 bit, 16000 samples → 2 s
      const rate = 8000;
      info[18] = (rate >> 12) & 0xff;
      info[19] = (rate >> 4) & 0xff;
      info[20] = ((rate & 0x0f) << 4) | (0 << 1) | 0;
      info[21] = (15 << 4) | 0;
      info.writeUInt32BE(16000, 22);
      return Buffer.concat([info, Buffer.alloc(64, 1)]);
    })(),
    mimeType: 'audio/flac',
    extension: '.flac',
  },
  opus: {
    // One page, beginning of stream, one 19-byte segment: the OpusHead header.
    bytes: Buffer.concat([
      Buffer.from('OggS\x00\x02', 'latin1'),
      Buffer.alloc(20, 0),
      Buffer.from([1, 19]),
      Buffer.from('OpusHead\x01\x01', 'latin1'),
      Buffer.alloc(9, 0),
      Buffer.alloc(64, 2),
    ]),
    mimeType: 'audio/ogg',
    extension: '.opus',
  },
  m4a: {
    // ftyp, then moov › trak › mdia › hdlr with the `soun` handler, then some mdat.
    bytes: Buffer.concat([
      Buffer.from([0, 0, 0, 0x1c]),
      Buffer.from('ftypM4A \x00\x00\x02\x00M4A isomiso2', 'latin1'),
      mp4Box(
        'moov',
        mp4Box(
          'trak',
          mp4Box(
            'mdia',
            mp4Box('hdlr', Buffer.concat([Buffer.alloc(8), Buffer.from('soun'), Buffer.alloc(13)])),
          ),
        ),
      ),
      mp4Box('mdat', Buffer.alloc(64, 3)),
    ]),
    mimeType: 'audio/mp4',
    extension: '.m4a',
  },
  webm: {
    bytes: Buffer.concat([
      Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84]),
      Buffer.from('webm', 'latin1'),
      Buffer.alloc(64, 4),
    ]),
    mimeType: 'audio/webm',
    extension: '.webm',
  },
};

/**
 * The storage suite of SPEC section 4, run once per driver: against the local driver,
 * and against a real S3-compatible server (s3rver) on loopback through the AWS SDK.
 */
export function storageSuite(driver: Driver): void {
  describe(`Audio storage over the ${driver} driver (SPEC section 4)`, () => {
    let s3: TestS3 | undefined;
    let t: TestApp & { storageRoot: string };
    let admin: Session;
    let worker: Session;

    /** Where the bytes of this driver end up on disk. */
    const storedFiles = async (): Promise<string[]> =>
      driver === 'local'
        ? filesUnder(t.storageRoot)
        : (await filesUnder(s3!.directory)).filter((f) => f.endsWith('._S3rver_object'));
    /** The path on disk of a stored key (to damage it behind the application's back). */
    const diskPathOf = async (key: string): Promise<string> => {
      if (driver === 'local') return join(t.storageRoot, key);
      const match = (await filesUnder(s3!.directory)).find(
        (f) => f.endsWith('._S3rver_object') && f.includes(key),
      );
      if (!match) throw new Error(`no s3rver object for ${key}`);
      return join(s3!.directory, match);
    };

    beforeAll(async () => {
      // In its own process: the RSS limit below is the service's, not the S3 server's.
      s3 = driver === 's3' ? await startS3Process() : undefined;
      t = await startAudioApp(`storage-${driver}`, s3?.env ?? { STORAGE_DRIVER: 'local' });
      admin = await loginAsAdmin(t.http);
      worker = await userSession(t.http, admin, 'case_worker');
    });
    afterAll(async () => {
      await t.close();
      await s3?.stop();
    });

    const upload = async (
      caseId: string,
      content: Buffer,
      extra: Parameters<typeof uploadAudio>[3] | object = {},
    ) => uploadAudio(t, worker.auth, caseId, { content, ...extra });
    const get = async (id: string) =>
      (await t.http.get(`/api/v1/audio/${id}`).set(worker.auth).expect(200)).body as AudioBody;

    describe('upload', () => {
      it('streams a WAV to a server-built key with hash, size, duration and type, and counts usage', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const wav = wavBuffer(2);
        const response = await upload(caseId, wav, {
          fields: [['language', 'en']],
          filename: 'interview.wav',
        });
        expect(response.status).toBe(201);
        const body = response.body as unknown as AudioBody;
        expect(response.headers.location).toBe(`/api/v1/audio/${body.id}`);
        expect(body).toMatchObject({
          caseId,
          originalName: 'interview.wav',
          mimeType: 'audio/wav',
          sizeBytes: wav.length,
          sha256: sha256Of(wav),
          durationSeconds: 2,
          status: 'queued',
          language: 'en',
          storageType: driver,
          storageKey: `cases/${caseId}/${body.id}.wav`,
          isArchived: false,
        });
        expect(await storedFiles()).toEqual(
          expect.arrayContaining([expect.stringContaining(`${caseId}/${body.id}.wav`)]),
        );
        const [usage] = await t.db.query<{ files: number; bytes: string }[]>(
          `SELECT files_uploaded AS files, bytes_uploaded AS bytes FROM usage_statistics WHERE user_id = $1`,
          [worker.userId],
        );
        expect(usage!.files).toBeGreaterThanOrEqual(1);
        const [audit] = await t.db.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM audit_logs WHERE action = 'audio.upload' AND resource_id = $1`,
          [body.id],
        );
        expect(audit!.n).toBe(1);
      });

      it.each(Object.entries(SAMPLES))('recognises %s by its magic bytes', async (_, sample) => {
        const caseId = await createCase(t.http, worker.auth);
        const response = await upload(caseId, sample.bytes, {
          filename: 'no-extension',
          contentType: 'text/plain',
        });
        expect(response.status).toBe(201);
        expect(response.body).toMatchObject({ mimeType: sample.mimeType });
        expect(response.body.storageKey).toMatch(new RegExp(`\\${sample.extension}$`));
        if (sample.extension === '.flac') expect(response.body.durationSeconds).toBe(2);
      });

      it('refuses the same content twice in one case with 409 naming the existing file', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const wav = wavBuffer(1);
        const first = await upload(caseId, wav);
        const before = await storedFiles();
        const second = await upload(caseId, wav);
        expect(second.status).toBe(409);
        expect(second.body).toMatchObject({ status: 409, existingId: first.body.id });
        expect(await storedFiles()).toEqual(before);
        const elsewhere = await upload(await createCase(t.http, worker.auth), wav);
        expect(elsewhere.status).toBe(201);
      });

      it('refuses text renamed .wav with 415 and stores nothing (S6)', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const before = await storedFiles();
        const response = await upload(
          caseId,
          Buffer.from('this is not audio at all\n'.repeat(400)),
          {
            filename: 'evil.wav',
            contentType: 'audio/wav',
          },
        );
        expect(response.status).toBe(415);
        expect(response.headers['content-type']).toMatch(/problem\+json/);
        expect(await storedFiles()).toEqual(before);
        const list = await t.http.get(`/api/v1/cases/${caseId}/audio`).set(worker.auth).expect(200);
        expect(list.body.meta.total).toBe(0);
      });

      it('never lets a file name reach a path (S6)', async () => {
        const caseId = await createCase(t.http, worker.auth);
        for (const filename of [
          '../../../../etc/passwd.wav',
          '..\\..\\windows\\evil.wav',
          '/abs/olute.wav',
          '..',
        ]) {
          const response = await upload(caseId, wavBuffer(1), { filename });
          expect(response.status).toBe(201);
          const body = response.body as unknown as AudioBody;
          expect(body.storageKey).toBe(`cases/${caseId}/${body.id}.wav`);
          expect(body.originalName).not.toMatch(/[\\/]/);
        }
        expect((await storedFiles()).every((f) => !f.includes('..'))).toBe(true);
      });

      it('rejects a client-sent storageKey, before or after the file, and stores nothing (S6)', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const before = await storedFiles();
        const first = await upload(caseId, wavBuffer(1), {
          fields: [['storageKey', '../../escape.wav']],
        });
        expect(first.status).toBe(400);
        const second = await upload(caseId, wavBuffer(1), {
          fieldsAfter: [['storageKey', 'cases/x/y.wav']],
        });
        expect(second.status).toBe(400);
        const json = await t.http
          .post(`/api/v1/cases/${caseId}/audio`)
          .set(worker.auth)
          .send({ storageKey: 'cases/x/y.wav' });
        expect(json.status).toBe(415);
        expect(await storedFiles()).toEqual(before);
        const list = await t.http.get(`/api/v1/cases/${caseId}/audio`).set(worker.auth).expect(200);
        expect(list.body.meta.total).toBe(0);
      });

      it('refuses an unknown language with 400 and no file with 400', async () => {
        const caseId = await createCase(t.http, worker.auth);
        expect((await upload(caseId, wavBuffer(1), { fields: [['language', 'xx']] })).status).toBe(
          400,
        );
        const noFile = await t.http
          .post(`/api/v1/cases/${caseId}/audio`)
          .set(worker.auth)
          .field('language', 'en');
        expect(noFile.status).toBe(400);
      });
    });

    describe('download', () => {
      let file: AudioBody;
      let wav: Buffer;
      beforeAll(async () => {
        const caseId = await createCase(t.http, worker.auth);
        wav = wavBuffer(3);
        file = (await upload(caseId, wav)).body as unknown as AudioBody;
      });

      it('streams the bytes with ETag = sha256, length, type and Accept-Ranges, and audits it', async () => {
        const response = await downloadAudio(t, worker.auth, file.id);
        expect(response.status).toBe(200);
        expect(response.sha256).toBe(sha256Of(wav));
        expect(response.headers).toMatchObject({
          etag: `"${sha256Of(wav)}"`,
          'content-type': 'audio/wav',
          'content-length': String(wav.length),
          'accept-ranges': 'bytes',
        });
        const activity = await t.http
          .get(`/api/v1/cases/${file.caseId}/activity`)
          .set(worker.auth)
          .expect(200);
        expect(activity.body.data.map((e: { action: string }) => e.action)).toContain(
          'audio.download',
        );
      });

      it.each([
        ['bytes=0-9', 0, 10],
        ['bytes=100-', 100, undefined],
        ['bytes=-10', -10, undefined],
        ['bytes=44-1043', 44, 1044],
      ])('answers %s with 206 and exactly that slice', async (range, start, end) => {
        const response = await downloadAudio(t, worker.auth, file.id, { Range: range });
        expect(response.status).toBe(206);
        const expected = start < 0 ? wav.subarray(wav.length + start) : wav.subarray(start, end);
        expect(response.body!.equals(expected)).toBe(true);
        const first = start < 0 ? wav.length + start : start;
        expect(response.headers['content-range']).toBe(
          `bytes ${first}-${first + expected.length - 1}/${wav.length}`,
        );
        expect(response.headers['content-length']).toBe(String(expected.length));
      });

      it('answers an unsatisfiable range with 416 and the size', async () => {
        const response = await downloadAudio(t, worker.auth, file.id, {
          Range: `bytes=${wav.length}-`,
        });
        expect(response.status).toBe(416);
        expect(response.headers['content-range']).toBe(`bytes */${wav.length}`);
      });

      it('answers If-None-Match with the ETag with 304 and no body', async () => {
        const response = await downloadAudio(t, worker.auth, file.id, {
          'If-None-Match': `"${file.sha256}"`,
        });
        expect(response.status).toBe(304);
        expect(response.size).toBe(0);
        expect(response.headers.etag).toBe(`"${file.sha256}"`);
      });
    });

    describe('jobs', () => {
      const archive = async (id: string) => {
        const accepted = await t.http
          .post(`/api/v1/audio/${id}/archive`)
          .set(worker.auth)
          .send({ reason: 'done' });
        expect(accepted.status).toBe(202);
        return waitForJob(t.http, worker.auth, accepted.body.jobId);
      };
      const verify = async (id: string) => {
        const accepted = await t.http
          .post(`/api/v1/audio/${id}/verify`)
          .set(worker.auth)
          .expect(202);
        return waitForJob(t.http, worker.auth, accepted.body.jobId);
      };

      it('archives (409 on download), restores and keeps the bytes intact', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const wav = wavBuffer(1);
        const file = (await upload(caseId, wav)).body as unknown as AudioBody;
        const job = await archive(file.id);
        expect(job).toMatchObject({ state: 'completed', progress: 100, type: 'archive' });
        const archived = await get(file.id);
        expect(archived).toMatchObject({
          isArchived: true,
          storageKey: `archive/${file.id}/${file.id}.wav`,
          archiveReason: 'done',
        });
        expect((await downloadAudio(t, worker.auth, file.id)).status).toBe(409);
        const files = await storedFiles();
        expect(files.some((f) => f.includes(`cases/${caseId}/${file.id}`))).toBe(false);

        const restore = await t.http
          .post(`/api/v1/audio/${file.id}/restore`)
          .set(worker.auth)
          .expect(202);
        expect((await waitForJob(t.http, worker.auth, restore.body.jobId)).state).toBe('completed');
        expect(await get(file.id)).toMatchObject({
          isArchived: false,
          storageKey: `cases/${caseId}/${file.id}.wav`,
        });
        expect((await downloadAudio(t, worker.auth, file.id)).sha256).toBe(sha256Of(wav));
        expect((await verify(file.id)).result).toMatchObject({ valid: true });
      });

      it.each<MoveStep>(['copy', 'verify', 'delete-source'])(
        'survives a crash after %s: still downloadable, the re-run completes, verify passes (R5)',
        async (step) => {
          const caseId = await createCase(t.http, worker.auth);
          const wav = wavBuffer(2);
          const file = (await upload(caseId, wav)).body as unknown as AudioBody;
          const service = t.app.get(AudioArchiveService);
          await expect(
            service.archive(
              { audioId: file.id, requestedBy: worker.userId, reason: 'r5' },
              undefined,
              { crashAfter: step },
            ),
          ).rejects.toThrow(`simulated crash after ${step}`);
          const during = await downloadAudio(t, worker.auth, file.id);
          expect({ status: during.status, same: during.sha256 === sha256Of(wav) }).toEqual({
            status: 200,
            same: true,
          });
          expect((await archive(file.id)).state).toBe('completed');
          expect(await get(file.id)).toMatchObject({ isArchived: true });
          expect((await verify(file.id)).result).toMatchObject({ valid: true });
        },
      );

      it('archives many files at once: each row moves and gets one audit entry with its own request id', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const files: AudioBody[] = [];
        for (let i = 0; i < 8; i++) {
          files.push((await upload(caseId, wavBuffer(1))).body as unknown as AudioBody);
        }
        const requestIdOf = (id: string) => `p8-${id}`;
        const jobs = await Promise.all(
          files.map(async (file) => {
            const accepted = await t.http
              .post(`/api/v1/audio/${file.id}/archive`)
              .set(worker.auth)
              .set('X-Request-Id', requestIdOf(file.id))
              .send({ reason: 'bulk' })
              .expect(202);
            return waitForJob(t.http, worker.auth, accepted.body.jobId);
          }),
        );
        expect(jobs.map((job) => job.state)).toEqual(files.map(() => 'completed'));
        // A re-run finds every row already moved: nothing changes, nothing is audited twice.
        const service = t.app.get(AudioArchiveService);
        for (const file of files) {
          await expect(
            service.archive({ audioId: file.id, requestedBy: worker.userId, reason: 'bulk' }),
          ).resolves.toMatchObject({ alreadyDone: true });
        }
        const entries = await t.db.query<{ resourceId: string; requestId: string }[]>(
          `SELECT resource_id AS "resourceId", request_id AS "requestId" FROM audit_logs
            WHERE action = 'audio.archive' AND resource_id = ANY($1::text[])`,
          [files.map((file) => file.id)],
        );
        expect(entries.sort((a, b) => a.resourceId.localeCompare(b.resourceId))).toEqual(
          files
            .map((file) => ({ resourceId: file.id, requestId: requestIdOf(file.id) }))
            .sort((a, b) => a.resourceId.localeCompare(b.resourceId)),
        );
        for (const file of files) {
          expect(await get(file.id)).toMatchObject({
            isArchived: true,
            archiveReason: 'bulk',
            storageKey: `archive/${file.id}/${file.id}.wav`,
          });
          expect(await verify(file.id)).toMatchObject({ result: { valid: true } });
        }
        const chain = await t.http.get('/api/v1/audit/verify').set(admin.auth).expect(200);
        expect(chain.body).toMatchObject({ valid: true });
      });

      it('marks a byte-flipped file failed on verify and audits it', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const file = (await upload(caseId, wavBuffer(1))).body as unknown as AudioBody;
        const path = await diskPathOf(file.storageKey);
        const bytes = await readFile(path);
        bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
        await writeFile(path, bytes);
        const job = await verify(file.id);
        expect(job.state).toBe('completed');
        expect(job.result).toMatchObject({ valid: false });
        const after = await get(file.id);
        expect(after.status).toBe('failed');
        expect(after.errorMessage).toMatch(/Integrity check failed: sha256/);
        const [audit] = await t.db.query<{ outcome: string }[]>(
          `SELECT outcome FROM audit_logs WHERE action = 'audio.verify_failed' AND resource_id = $1`,
          [file.id],
        );
        expect(audit?.outcome).toBe('failure');
      });

      it('deletes the bytes and keeps the row; a legal hold answers 409 until lifted', async () => {
        const supervisor = await userSession(t.http, admin, 'supervisor');
        const caseId = await createCase(t.http, worker.auth);
        const file = (await upload(caseId, wavBuffer(1))).body as unknown as AudioBody;
        await t.http
          .post(`/api/v1/cases/${caseId}/hold`)
          .set(supervisor.auth)
          .send({ reason: 'litigation' })
          .expect(200);
        const held = await t.http.delete(`/api/v1/audio/${file.id}`).set(supervisor.auth);
        expect(held.status).toBe(409);
        expect(held.body.type).toMatch(/legal-hold$/);
        await t.http
          .delete(`/api/v1/cases/${caseId}/hold`)
          .set(supervisor.auth)
          .send({ reason: 'settled' })
          .expect(200);
        const accepted = await t.http
          .delete(`/api/v1/audio/${file.id}`)
          .set(supervisor.auth)
          .expect(202);
        expect((await waitForJob(t.http, supervisor.auth, accepted.body.jobId)).state).toBe(
          'completed',
        );
        await t.http.get(`/api/v1/audio/${file.id}`).set(supervisor.auth).expect(404);
        expect((await storedFiles()).some((f) => f.includes(file.id))).toBe(false);
        const [row] = await t.db.query<{ deleted: boolean }[]>(
          'SELECT deleted_at IS NOT NULL AS deleted FROM audio_files WHERE id = $1',
          [file.id],
        );
        expect(row!.deleted).toBe(true);
      });
    });

    describe('a 200 MB file', () => {
      it('goes up and comes back byte for byte, in slices too, with RSS growth under 64 MiB', async () => {
        const caseId = await createCase(t.http, worker.auth);
        const large = await writeLargeWav(200 * 1024 * 1024);
        global.gc?.();
        const baseline = process.memoryUsage().rss;
        let peak = baseline;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 20);
        try {
          const response = await uploadAudio(t, worker.auth, caseId, {
            content: { path: large.path },
          });
          expect(response.status).toBe(201);
          expect(response.body).toMatchObject({ sha256: large.sha256, sizeBytes: large.size });
          const id = response.body.id as string;
          const down = await downloadAudio(t, worker.auth, id);
          expect({ status: down.status, size: down.size, sha256: down.sha256 }).toEqual({
            status: 200,
            size: large.size,
            sha256: large.sha256,
          });
          for (const [start, end] of [
            [0, 1023],
            [large.size / 2, large.size / 2 + 65535],
            [large.size - 4096, large.size - 1],
          ] as const) {
            const slice = await downloadAudio(t, worker.auth, id, {
              Range: `bytes=${start}-${end}`,
            });
            expect(slice.status).toBe(206);
            expect(slice.body!.equals(await readSlice(large.path, start, end))).toBe(true);
          }
        } finally {
          clearInterval(sampler);
        }
        await rm(large.path, { force: true });
        const growth = (peak - baseline) / 1024 / 1024;
        expect(growth).toBeLessThan(64);
      }, 180_000);
    });
    // Last: a second app in the process takes over passport's global strategies, so
    // the first app's tokens only work while the second one is still open.
    describe('size limit', () => {
      let small: TestApp & { storageRoot: string };
      beforeAll(async () => {
        small = await startAudioApp(`small-${driver}`, {
          ...(s3?.env ?? {}),
          AUDIO_MAX_BYTES: '100000',
        });
      });
      afterAll(() => small.close());

      it('answers 413 over AUDIO_MAX_BYTES and leaves no partial data (S4)', async () => {
        const session = await loginAsAdmin(small.http);
        const caseId = await createCase(small.http, session.auth);
        const files = async () =>
          driver === 'local'
            ? filesUnder(small.storageRoot)
            : (await filesUnder(s3!.directory)).filter((f) => f.includes(caseId));
        const response = await uploadAudio(small, session.auth, caseId, { content: wavBuffer(20) }); // 320 KB
        expect(response.status).toBe(413);
        expect(await files()).toEqual([]);
        // Just over the limit, where only the streamed count can tell.
        const edge = await uploadAudio(small, session.auth, caseId, {
          content: Buffer.concat([wavBuffer(1), Buffer.alloc(100000 - 16044 + 1, 1)]),
        });
        expect(edge.status).toBe(413);
        expect(await files()).toEqual([]);
        const fits = await uploadAudio(small, session.auth, caseId, { content: wavBuffer(2) });
        expect(fits.status).toBe(201);
      });
    });
  });
}
