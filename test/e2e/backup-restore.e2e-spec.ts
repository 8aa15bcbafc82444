import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ArchiveDamagedError } from '../../src/maintenance/backup/archive';
import { BackupReport, BackupService } from '../../src/maintenance/backup/backup.service';
import { Progress } from '../../src/maintenance/backup/progress';
import {
  RestoreRefusedError,
  RestoreReport,
  RestoreService,
} from '../../src/maintenance/backup/restore.service';
import { CliModule } from '../../src/cli/cli.module';
import { databaseOptions } from '../../src/core/database/database-options';
import { seedDatabase } from '../support/seed-fixture';
import { attemptLogin, loginAsAdmin, TestApp, userSession } from '../support/app';
import {
  createCase,
  downloadAudio,
  startAudioApp,
  uploadAudio,
  waitForJob,
  wavBuffer,
} from '../support/audio';
import { verifyChain } from '../support/audit-support';
import { startS3, TestS3 } from '../support/s3';
import { ADMIN } from '../support/test-run';
import { createConversation, eventually, turn } from '../support/turns';

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');

// ---------------------------------------------------------------------------
// Databases of this spec: created here, dropped here; the run's own is never touched.

const created: string[] = [];
/** The run's own database, read once: apps started below change process.env while they run. */
const RUN_DATABASE_URL = process.env.DATABASE_URL!;

function urlOf(database: string): string {
  const url = new URL(RUN_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: urlOf('postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database (no tables at all) named after the run's. */
async function createDatabase(suffix: string): Promise<string> {
  const name = `${new URL(RUN_DATABASE_URL).pathname.slice(1)}_${suffix}`;
  await onServer((c) => c.query(`CREATE DATABASE "${name}"`));
  created.push(name);
  return urlOf(name);
}

async function migratedAndSeeded(suffix: string): Promise<string> {
  const url = await createDatabase(suffix);
  const dataSource = new DataSource(databaseOptions({ url, poolSize: 2 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await seedDatabase(dataSource, ADMIN);
  await dataSource.destroy();
  return url;
}

afterAll(async () => {
  await onServer(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

/**
 * Every table of the database: its row count and an md5 of all its rows (as text, in
 * a fixed order), plus every sequence's position. Equal fingerprints mean every row
 * is back, byte for byte.
 */
async function fingerprint(url: string): Promise<Record<string, string>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, string> = {};
    const tables = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    for (const { name } of tables.rows) {
      const { rows } = await client.query<{ n: number; h: string }>(
        `SELECT count(*)::int AS n,
                md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h
           FROM "${name}" t`,
      );
      out[name] = `${rows[0]!.n} rows ${rows[0]!.h}`;
    }
    const sequences = await client.query<{ name: string; last: string | null }>(
      `SELECT sequencename AS name, last_value::text AS last FROM pg_sequences
        WHERE schemaname = 'public'`,
    );
    for (const { name, last } of sequences.rows) out[`sequence ${name}`] = String(last);
    return out;
  } finally {
    await client.end();
  }
}

const rowsOf = (print: Record<string, string>, table: string): number =>
  Number(/^(\d+) rows/.exec(print[table] ?? '')?.[1] ?? -1);

/** Every file under a local storage root with its sha256, relative to the root. */
async function filesOf(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
        out[relative(root, path)] = `${(await stat(path)).mtimeMs} ${hash.digest('hex')}`;
      }
    }
  }
  await walk(root);
  return out;
}

// ---------------------------------------------------------------------------
// The CLI's services in this process, on a given database and storage.

async function withCli<T>(
  env: Record<string, string>,
  work: (cli: INestApplicationContext) => Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const cli = await NestFactory.createApplicationContext(CliModule, { logger: false });
    try {
      return await work(cli);
    } finally {
      await cli.close();
    }
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Records what the services report as progress, to check it moves to 100 %. */
function recordingProgress(): Progress & {
  phases: { label: string; total: number; done: number }[];
} {
  const phases: { label: string; total: number; done: number }[] = [];
  return {
    phases,
    start: (label, total) => void phases.push({ label, total, done: 0 }),
    advance: (bytes) => {
      phases[phases.length - 1]!.done += bytes;
    },
    stop: () => undefined,
  };
}

const backup = (env: Record<string, string>, file: string): Promise<BackupReport> =>
  withCli(env, (cli) => cli.get(BackupService).backup(file, { progress: recordingProgress() }));

const restore = (
  env: Record<string, string>,
  file: string,
  force = false,
  progress: Progress = recordingProgress(),
): Promise<RestoreReport> =>
  withCli(env, (cli) => cli.get(RestoreService).restore(file, { force, progress }));

/** The real CLI (`npm run cli -- …`) in a child process. */
function runCli(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '-T', 'src/cli.ts', ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------
// Data made through the API, as users make it.

interface Made {
  audio: { id: string; sha256: string; archived: boolean }[];
  conversationId: string;
}

async function populate(t: TestApp): Promise<Made> {
  const admin = await loginAsAdmin(t.http);
  const worker = await userSession(t.http, admin, 'case_worker');
  await userSession(t.http, admin, 'case_worker');
  await attemptLogin(t.http, ADMIN.username, 'not-the-password'); // a failure, audited
  const caseId = await createCase(t.http, worker.auth, 'Backup round trip');
  for (const body of ['First note', 'Second note, with ünïcode ✓']) {
    await t.http.post(`/api/v1/cases/${caseId}/notes`).set(worker.auth).send({ body }).expect(201);
  }
  const audio: Made['audio'] = [];
  for (const seconds of [1, 2]) {
    const uploaded = await uploadAudio(t, worker.auth, caseId, { content: wavBuffer(seconds) });
    expect(uploaded.status).toBe(201);
    audio.push({
      id: uploaded.body.id as string,
      sha256: uploaded.body.sha256 as string,
      archived: false,
    });
  }
  // One file archived: its bytes now live under archive/{id}/…
  const accepted = await t.http
    .post(`/api/v1/audio/${audio[1]!.id}/archive`)
    .set(worker.auth)
    .send({ reason: 'backup test' })
    .expect(202);
  expect((await waitForJob(t.http, worker.auth, accepted.body.jobId as string)).state).toBe(
    'completed',
  );
  audio[1]!.archived = true;

  const conversation = await createConversation(t.http, worker);
  await t.http
    .post(`/api/v1/conversations/${conversation.id}/turns`)
    .set(worker.auth)
    .send({ turns: [1, 2, 3, 4, 5].map((n) => turn(n)) })
    .expect(202);
  const persisted = await eventually(
    async () =>
      (
        await t.db.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
          [conversation.id],
        )
      )[0]!.n,
    (n) => n === 5,
    30_000,
  );
  expect(persisted).toBe(5);
  return { audio, conversationId: conversation.id };
}

/** After a restore: files download with their sha256, verify jobs pass, the chain is valid. */
async function checkRestoredApp(t: TestApp, made: Made): Promise<void> {
  const admin = await loginAsAdmin(t.http);
  for (const file of made.audio) {
    const row = await t.http.get(`/api/v1/audio/${file.id}`).set(admin.auth).expect(200);
    expect(row.body).toMatchObject({ sha256: file.sha256, isArchived: file.archived });
    if (!file.archived) {
      const download = await downloadAudio(t, admin.auth, file.id);
      expect(download.status).toBe(200);
      expect(download.sha256).toBe(file.sha256);
    }
    const accepted = await t.http
      .post(`/api/v1/audio/${file.id}/verify`)
      .set(admin.auth)
      .expect(202);
    const job = await waitForJob(t.http, admin.auth, accepted.body.jobId as string);
    expect(job.result).toMatchObject({ valid: true });
  }
  // The archived file comes back from the archive key too.
  const archived = made.audio.find((f) => f.archived)!;
  const back = await t.http.post(`/api/v1/audio/${archived.id}/restore`).set(admin.auth);
  expect(back.status).toBe(202);
  await waitForJob(t.http, admin.auth, back.body.jobId as string);
  const download = await downloadAudio(t, admin.auth, archived.id);
  expect(download.sha256).toBe(archived.sha256);

  const turns = await t.http
    .get(`/api/v1/conversations/${made.conversationId}/turns`)
    .set(admin.auth)
    .expect(200);
  expect(turns.body.data).toHaveLength(5);
  // The chain is valid, and keeps growing validly (sequences were restored too).
  expect(await verifyChain(t.http, admin)).toMatchObject({ valid: true });
}

describe('Admin CLI backup / restore', () => {
  describe('local storage', () => {
    let work: string;
    let made: Made;
    let sourceUrl: string;
    let sourceRoot: string;
    let targetUrl: string;
    let targetRoot: string;
    let archive: string;
    let sourcePrint: Record<string, string>;
    let report: BackupReport;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'verbatim-backup-e2e-'));
      sourceUrl = await migratedAndSeeded('bk_src');
      sourceRoot = join(work, 'source-storage');
      const source = await startAudioApp('bksrc', {
        DATABASE_URL: sourceUrl,
        STORAGE_LOCAL_ROOT: sourceRoot,
      });
      // Closed before the backup: nothing writes while it runs, so counts are exact.
      made = await populate(source).finally(() => source.close());
      sourcePrint = await fingerprint(sourceUrl);
      archive = join(work, 'verbatim.tar.gz');
      report = await backup({ DATABASE_URL: sourceUrl, STORAGE_LOCAL_ROOT: sourceRoot }, archive);

      // The wipe: an empty database (not even migrated) and an empty storage root.
      targetUrl = await createDatabase('bk_dst');
      targetRoot = join(work, 'restored-storage');
    });

    afterAll(() => rm(work, { recursive: true, force: true }));

    it('writes one archive with the dump, every object and a manifest', async () => {
      const { manifest } = report;
      expect(manifest).toMatchObject({
        format: 'verbatim-backup',
        formatVersion: 1,
        appVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
        objectCount: 2,
        storage: { driver: 'local' },
      });
      expect(manifest.migrations).toEqual(
        (
          await onSourceQuery<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id')
        ).map((r) => r.name),
      );
      const rows = await onSourceQuery<{ storage_key: string; sha256: string; size_bytes: string }>(
        'SELECT storage_key, sha256, size_bytes FROM audio_files ORDER BY storage_key',
      );
      expect(manifest.objects).toEqual(
        rows.map((r) => ({ key: r.storage_key, sha256: r.sha256, size: Number(r.size_bytes) })),
      );
      expect(manifest.objects.map((o) => o.key.split('/')[0]).sort()).toEqual(['archive', 'cases']);
      expect(report.unmatchedAudioRows).toBe(0);
      expect(report.vanished).toEqual([]);
      expect((await stat(archive)).mode & 0o077).toBe(0); // readable by its owner only
      // No temporary file or directory is left beside the archive.
      expect((await readdir(work)).sort()).toEqual(['source-storage', 'verbatim.tar.gz']);
    });

    async function onSourceQuery<R extends object>(sql: string): Promise<R[]> {
      const client = new Client({ connectionString: sourceUrl });
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    }

    it('restores into an empty database and storage: every row, file and hash is back', async () => {
      const progress = recordingProgress();
      const restored = await restore(
        { DATABASE_URL: targetUrl, STORAGE_LOCAL_ROOT: targetRoot },
        archive,
        false,
        progress,
      );
      expect(restored).toMatchObject({
        cleaned: false,
        objectsRestored: 2,
        strayObjects: 0,
        pendingMigrations: [],
        audit: { valid: true },
      });
      expect(progress.phases.map((p) => p.label)).toEqual(['verify', 'restore']);
      for (const phase of progress.phases) expect(phase.done).toBe(phase.total);

      const targetPrint = await fingerprint(targetUrl);
      expect(targetPrint).toEqual(sourcePrint);
      expect(rowsOf(targetPrint, 'users')).toBeGreaterThanOrEqual(3);
      expect(rowsOf(targetPrint, 'case_notes')).toBe(2);
      expect(rowsOf(targetPrint, 'audio_files')).toBe(2);
      expect(rowsOf(targetPrint, 'turns')).toBe(5);
      expect(rowsOf(targetPrint, 'audit_logs')).toBeGreaterThan(5);
      expect(restored.audit.checked).toBe(rowsOf(targetPrint, 'audit_logs'));

      const sourceFiles = Object.fromEntries(
        Object.entries(await filesOf(sourceRoot)).map(([k, v]) => [k, v.split(' ')[1]]),
      );
      const targetFiles = Object.fromEntries(
        Object.entries(await filesOf(targetRoot)).map(([k, v]) => [k, v.split(' ')[1]]),
      );
      expect(targetFiles).toEqual(sourceFiles);
    });

    it('refuses, through the real CLI, to restore over data without --force; nothing changes', async () => {
      const before = { db: await fingerprint(targetUrl), files: await filesOf(targetRoot) };
      const run = await runCli({ DATABASE_URL: targetUrl, STORAGE_LOCAL_ROOT: targetRoot }, [
        'restore',
        archive,
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/Refusing to restore: database ".*_bk_dst" already holds data/);
      expect(run.stderr).toMatch(/--force/);
      expect(await fingerprint(targetUrl)).toEqual(before.db);
      expect(await filesOf(targetRoot)).toEqual(before.files);
    });

    it('refuses a damaged archive before changing anything, even with --force', async () => {
      // Flip one byte inside an object of an uncompressed copy of the archive.
      const plain = join(work, 'damaged.tar');
      const { createGunzip } = await import('node:zlib');
      const { pipeline } = await import('node:stream/promises');
      const { createWriteStream } = await import('node:fs');
      await pipeline(createReadStream(archive), createGunzip(), createWriteStream(plain));
      const bytes = await readFile(plain);
      const at = bytes.indexOf('objects/cases/');
      bytes[Math.ceil((at + 1) / 512) * 512 + 100]! ^= 0xff;
      await writeFile(plain, bytes);

      const before = { db: await fingerprint(targetUrl), files: await filesOf(targetRoot) };
      await expect(
        restore({ DATABASE_URL: targetUrl, STORAGE_LOCAL_ROOT: targetRoot }, plain, true),
      ).rejects.toThrow(ArchiveDamagedError);
      await expect(
        restore({ DATABASE_URL: targetUrl, STORAGE_LOCAL_ROOT: targetRoot }, plain, true),
      ).rejects.toThrow(/does not match the sha256 in the manifest/);
      expect(await fingerprint(targetUrl)).toEqual(before.db);
      expect(await filesOf(targetRoot)).toEqual(before.files);
      await rm(plain);
    });

    it('with --force, replaces a changed database and storage with the backup again', async () => {
      const env = { DATABASE_URL: targetUrl, STORAGE_LOCAL_ROOT: targetRoot };
      await expect(restore(env, archive)).rejects.toThrow(RestoreRefusedError);
      // Change the target: a new table, changed and deleted rows, a damaged file.
      const client = new Client({ connectionString: targetUrl });
      await client.connect();
      try {
        await client.query('CREATE TABLE scratch (x int)');
        await client.query("UPDATE cases SET title = 'changed by hand'");
        await client.query('DELETE FROM refresh_tokens');
      } finally {
        await client.end();
      }
      expect(await fingerprint(targetUrl)).not.toEqual(sourcePrint);
      const [liveKey] = Object.keys(await filesOf(targetRoot)).filter((k) => k.startsWith('cases'));
      await writeFile(join(targetRoot, liveKey!), 'damaged');

      const restored = await restore(env, archive, true);
      expect(restored).toMatchObject({ cleaned: true, objectsRestored: 2, audit: { valid: true } });
      expect(await fingerprint(targetUrl)).toEqual(sourcePrint);
    });

    it('serves the restored data: downloads match, verify jobs pass, GET /audit/verify is valid', async () => {
      const t = await startAudioApp('bkdst', {
        LOG_LEVEL: 'error',
        DATABASE_URL: targetUrl,
        STORAGE_LOCAL_ROOT: targetRoot,
      });
      try {
        await checkRestoredApp(t, made);
      } finally {
        await t.close();
      }
    });
  });

  describe('S3 storage (s3rver)', () => {
    let sourceS3: TestS3;
    let targetS3: TestS3;
    let work: string;

    beforeAll(async () => {
      sourceS3 = await startS3();
      targetS3 = await startS3();
      work = await mkdtemp(join(tmpdir(), 'verbatim-backup-s3-'));
    });
    afterAll(async () => {
      await sourceS3.stop();
      await targetS3.stop();
      await rm(work, { recursive: true, force: true });
    });

    it('round-trips a bucket and its database', async () => {
      const sourceUrl = await migratedAndSeeded('bk_s3src');
      const source = await startAudioApp('bks3src', { DATABASE_URL: sourceUrl, ...sourceS3.env });
      const made = await populate(source).finally(() => source.close());
      const sourcePrint = await fingerprint(sourceUrl);
      const archive = join(work, 'bucket.tar');
      const report = await backup({ DATABASE_URL: sourceUrl, ...sourceS3.env }, archive);
      expect(report.manifest).toMatchObject({ objectCount: 2, storage: { driver: 's3' } });

      const targetUrl = await createDatabase('bk_s3dst');
      const restored = await restore({ DATABASE_URL: targetUrl, ...targetS3.env }, archive);
      expect(restored).toMatchObject({ objectsRestored: 2, audit: { valid: true } });
      expect(await fingerprint(targetUrl)).toEqual(sourcePrint);

      const t = await startAudioApp('bks3dst', { DATABASE_URL: targetUrl, ...targetS3.env });
      try {
        await checkRestoredApp(t, made);
      } finally {
        await t.close();
      }
    });
  });
});
