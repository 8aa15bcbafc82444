import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createPublicKey } from 'node:crypto';
import { verifyBundle } from '../../src/exports/bundle-verifier';
import { loginAsAdmin, Session, userSession } from '../support/app';
import { createCase, sha256Of, uploadAudio, waitForJob, wavBuffer } from '../support/audio';
import { filesUnder } from '../support/audio-storage-suite';
import { checkBundle } from '../support/bundle-check';
import {
  describeExport,
  download,
  ExportApp,
  ExportBody,
  exportCase,
  manifestOf,
  requestExport,
  startExportApp,
} from '../support/exports';
import type { TestS3 } from '../support/s3';
import { startS3Process } from '../support/s3-process';

/** Bounds for a loaded machine: generous, but a hang still fails the test instead of the run. */
const JOB_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 240_000;

/** s3rver's object files (`<bucket>/<key>._S3rver_object`), relative to its directory. */
async function s3Objects(s3: TestS3): Promise<string[]> {
  return (await filesUnder(s3.directory)).filter((f) => f.endsWith('._S3rver_object'));
}

/**
 * The signed case export with its audio and its bundle in S3 (s3rver in a process of its
 * own, through the real AWS SDK): the audio streams out of the bucket into the tar, the tar
 * streams back into the bucket as a multipart upload, and the download streams it out.
 */
describe('Signed case export on S3 storage (SPEC section 13)', () => {
  let s3: TestS3;
  let t: ExportApp;
  let lead: Session;
  let publicKeyPem: string;

  beforeAll(async () => {
    s3 = await startS3Process();
    t = await startExportApp('s3', s3.env);
    const admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
    ({ publicKeyPem } = (await t.http.get('/.well-known/verbatim-signing-key').expect(200))
      .body as { publicKeyPem: string });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  it(
    'exports a case whose audio is in S3 into S3, and the downloaded bundle verifies',
    async () => {
      const caseId = await createCase(t.http, lead.auth, 'S3 export');
      // About 11 MiB: with the small file, a bundle above the 8 MiB part size, so the tar
      // goes up as a multipart upload of two parts.
      const audio: { id: string; bytes: Buffer }[] = [];
      for (const seconds of [700, 1]) {
        const bytes = wavBuffer(seconds);
        const uploaded = await uploadAudio(t, lead.auth, caseId, { content: bytes });
        expect(uploaded.status).toBe(201);
        audio.push({ id: uploaded.body.id as string, bytes });
      }

      const exported = await exportCase(t, lead, caseId, JOB_TIMEOUT_MS);
      expect(exported).toMatchObject({ status: 'ready', error: null });
      expect(exported.sizeBytes).toBeGreaterThan(8 * 1024 * 1024);
      // In the bucket, not on the local disk.
      expect(await s3Objects(s3)).toContainEqual(
        expect.stringContaining(`exports/${exported.id}.tar`),
      );

      const response = await download(t.http, lead.auth, exported.id);
      expect(response.status).toBe(200);
      const bundle = response.body as Buffer;
      expect(bundle.length).toBe(exported.sizeBytes);
      expect(response.headers.etag).toBe(`"${sha256Of(manifestOf(bundle))}"`);

      const checked = await checkBundle(bundle, publicKeyPem);
      expect(checked.problems).toEqual([]);
      for (const { id, bytes } of audio) {
        expect(checked.entries.get(`audio/${id}.wav`)?.equals(bytes)).toBe(true);
      }
      expect(checked.manifest).toMatchObject({ caseId, exportId: exported.id });
      const app = await verifyBundle(Readable.from([bundle]), createPublicKey(publicKeyPem));
      expect(app).toMatchObject({ valid: true, problems: [] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'fails for an audio object missing from the bucket, leaves no bundle there, and succeeds once it is back',
    async () => {
      const caseId = await createCase(t.http, lead.auth, 'S3 export of lost audio');
      const uploaded = await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(1) });
      const audioId = uploaded.body.id as string;
      const object = (await s3Objects(s3)).find((key) => key.includes(audioId))!;
      const aside = join(s3.directory, '..', `${audioId}.aside`);
      await rename(join(s3.directory, object), aside);

      const accepted = await requestExport(t, lead.auth, caseId);
      expect(accepted.status).toBe(202);
      const { id, jobId } = accepted.body as ExportBody;
      const job = await waitForJob(t.http, lead.auth, jobId, JOB_TIMEOUT_MS);
      expect(job).toMatchObject({
        state: 'failed',
        error: `Audio file ${audioId} is missing from storage`,
      });
      expect((await describeExport(t.http, lead.auth, id)).body.status).toBe('failed');
      expect((await s3Objects(s3)).filter((key) => key.includes(id))).toEqual([]);

      await rename(aside, join(s3.directory, object));
      const again = await exportCase(t, lead, caseId, JOB_TIMEOUT_MS);
      const bundle = (await download(t.http, lead.auth, again.id).expect(200)).body as Buffer;
      expect((await checkBundle(bundle, publicKeyPem)).problems).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
