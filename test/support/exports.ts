import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { TestClock } from '../../src/core/clock/clock';
import { Session, startApp, TestApp } from './app';
import { waitForJob } from './audio';
import { ustarLayout } from './bundle-check';
import { isolatedDatabase } from './isolated-database';

/** GET /exports/:id with Accept: application/json. */
export interface ExportBody {
  id: string;
  caseId: string;
  jobId: string;
  status: string;
  requestedBy: string;
  sizeBytes: number | null;
  manifestSha256: string | null;
  keyId: string | null;
  entryCount: number | null;
  error: string | null;
  completedAt: string | null;
  expiresAt: string | null;
  downloadUrl: string | null;
}

export type ExportApp = TestApp & { storageRoot: string; keysDir: string };

/** A supertest response body as raw bytes. */
function binary(response: Response, done: (error: Error | null, body: Buffer) => void): void {
  const stream = response as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

/** GET /exports/:id as the tar (the body a Buffer). */
export function download(http: TestAgent, auth: Record<string, string>, id: string) {
  return http.get(`/api/v1/exports/${id}`).set(auth).buffer(true).parse(binary);
}

export async function describeExport(
  http: TestAgent,
  auth: Record<string, string>,
  id: string,
): Promise<{ status: number; body: ExportBody }> {
  const response = await http
    .get(`/api/v1/exports/${id}`)
    .set(auth)
    .set('Accept', 'application/json');
  return { status: response.status, body: response.body as ExportBody };
}

/**
 * The app with its workers on a database of its own: its own KEYS_DIR means its own
 * signing key, and the audit checkpoints its worker signs with it would fail
 * /audit/verify of every other spec sharing the run's database. `env` may point
 * storage elsewhere (the S3 driver); STORAGE_LOCAL_ROOT is then unused.
 */
export async function startExportApp(
  label: string,
  env: Record<string, string> = {},
  clock?: TestClock,
): Promise<ExportApp> {
  const storageRoot = await mkdtemp(join(tmpdir(), `verbatim-export-${label}-`));
  const keysDir = join(storageRoot, '..', `${storageRoot.split('/').pop()}-keys`);
  const database = await isolatedDatabase(`export_${label}`);
  const app = await startApp(
    {
      DATABASE_URL: database.url,
      STORAGE_LOCAL_ROOT: storageRoot,
      KEYS_DIR: keysDir,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-exp-${label}-${randomBytes(3).toString('hex')}`,
      ...env,
    },
    clock ? { clock } : {},
  );
  return {
    ...app,
    storageRoot,
    keysDir,
    async close() {
      await app.close();
      await database.drop();
      await rm(storageRoot, { recursive: true, force: true });
      await rm(keysDir, { recursive: true, force: true });
    },
  };
}

/** The bytes of manifest.json in a bundle. */
export function manifestOf(bundle: Buffer): Buffer {
  const entry = ustarLayout(bundle).find((e) => e.name === 'manifest.json')!;
  return bundle.subarray(entry.data, entry.data + entry.size);
}

export function requestExport(t: TestApp, auth: Record<string, string>, caseId: string) {
  return t.http.post(`/api/v1/cases/${caseId}/export`).set(auth);
}

/** Requests an export and waits (polling its job) until it is built; returns it, ready. */
export async function exportCase(
  t: TestApp,
  session: Session,
  caseId: string,
  timeoutMs?: number,
): Promise<ExportBody> {
  const accepted = await requestExport(t, session.auth, caseId);
  expect(accepted.status).toBe(202);
  const body = accepted.body as ExportBody;
  const job = await waitForJob(t.http, session.auth, body.jobId, timeoutMs);
  expect(job).toMatchObject({ state: 'completed', result: { exportId: body.id } });
  const described = await describeExport(t.http, session.auth, body.id);
  expect(described.status).toBe(200);
  return described.body;
}
