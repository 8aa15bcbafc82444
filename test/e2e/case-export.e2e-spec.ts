import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createPublicKey } from 'node:crypto';
import { TestClock } from '../../src/core/clock/clock';
import { QueueName } from '../../src/core/queue/queue-names';
import { verifyBundle } from '../../src/exports/bundle-verifier';
import { ExportJobName } from '../../src/exports/export-jobs';
import { login, loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { createCase, sha256Of, uploadAudio, waitForJob, wavBuffer } from '../support/audio';
import { auditLineHash, checkBundle, tarEntries, ustarLayout } from '../support/bundle-check';
import { CASE_CALLERS, CaseCaller, caseCallerSessions } from '../support/case-callers';
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
import { createConversation, eventually, turn } from '../support/turns';

const run = promisify(execFile);

async function addParticipant(
  t: TestApp,
  lead: Session,
  caseId: string,
  userId: string,
  role: 'member' | 'viewer' | 'lead',
): Promise<void> {
  await t.http
    .post(`/api/v1/cases/${caseId}/participants`)
    .set(lead.auth)
    .send({ userId, role })
    .expect(201);
}

describe('Signed case export (SPEC section 13, TARGETS S12)', () => {
  let t: ExportApp;
  let admin: Session;
  let lead: Awaited<ReturnType<typeof userSession>>;
  const clock = new TestClock();

  beforeAll(async () => {
    t = await startExportApp('main', {}, clock);
    admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());
  afterEach(() => clock.reset());

  describe('a full case', () => {
    let caseId: string;
    let audio: { id: string; bytes: Buffer }[];
    let conversationId: string;
    let exported: ExportBody;
    let bundle: Buffer;
    let publicKeyPem: string;
    let keyId: string;

    beforeAll(async () => {
      caseId = await createCase(t.http, lead.auth, 'Export case');
      await t.http
        .post(`/api/v1/cases/${caseId}/notes`)
        .set(lead.auth)
        .send({ body: 'Caller reported a break-in.' })
        .expect(201);
      audio = [];
      for (let i = 0; i < 2; i++) {
        const bytes = wavBuffer(2);
        const uploaded = await uploadAudio(t, lead.auth, caseId, { content: bytes });
        expect(uploaded.status).toBe(201);
        audio.push({ id: uploaded.body.id as string, bytes });
      }
      const first = audio[0]!.id;
      for (const text of ['Hello, police?', 'Hello, police, please.']) {
        await t.http
          .post(`/api/v1/audio/${first}/transcriptions`)
          .set(admin.auth)
          .send({
            engine: 'test-engine',
            segments: [{ start: 0, end: 1, speaker: 'Speaker_0', text, confidence: 0.9 }],
          })
          .expect(201);
      }
      const latest = await t.http
        .get(`/api/v1/audio/${first}/transcriptions/latest`)
        .set(admin.auth)
        .expect(200);
      await t.http
        .post(`/api/v1/transcriptions/${latest.body.id as string}/analysis`)
        .set(admin.auth)
        .send({ engine: 'sentiment-v2', summary: 'Break-in.', sentiment: 'negative' })
        .expect(201);
      conversationId = (await createConversation(t.http, lead, { caseId })).id;
      await t.http
        .post(`/api/v1/conversations/${conversationId}/turns`)
        .set(lead.auth)
        .send({ turns: [turn(1), turn(2), turn(3)] })
        .expect(202);
      await eventually(
        async () =>
          (
            await t.db.query<{ n: number }[]>(
              `SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1`,
              [conversationId],
            )
          )[0]!.n,
        (n) => n === 3,
      );

      const key = await t.http.get('/.well-known/verbatim-signing-key').expect(200);
      ({ publicKeyPem, keyId } = key.body as { publicKeyPem: string; keyId: string });
      exported = await exportCase(t, lead, caseId);
      const response = await download(t.http, lead.auth, exported.id);
      expect(response.status).toBe(200);
      bundle = response.body as Buffer;
    });

    it('answers POST with 202, the export and its job; the job result names the export', async () => {
      const response = await requestExport(t, lead.auth, caseId);
      expect(response.status).toBe(202);
      expect(response.headers.location).toBe(`/api/v1/exports/${response.body.id as string}`);
      expect(response.body).toMatchObject({
        id: expect.any(String),
        caseId,
        jobId: expect.any(String),
        requestedBy: lead.userId,
      });
      expect(['queued', 'running', 'ready']).toContain(response.body.status);
      const job = await waitForJob(t.http, lead.auth, response.body.jobId as string);
      expect(job.result).toEqual({ exportId: response.body.id });
    });

    it('describes a ready export: size, manifest sha256, key, expiry after EXPORT_TTL_HOURS, download URL', () => {
      expect(exported).toMatchObject({
        status: 'ready',
        caseId,
        requestedBy: lead.userId,
        keyId,
        sizeBytes: bundle.length,
        manifestSha256: sha256Of(manifestOf(bundle)),
        downloadUrl: `/api/v1/exports/${exported.id}`,
      });
      const ttl = Date.parse(exported.expiresAt!) - Date.parse(exported.completedAt!);
      expect(ttl).toBe(72 * 3_600_000);
    });

    it('downloads the tar with its size, and the manifest sha256 as ETag', async () => {
      const response = await download(t.http, lead.auth, exported.id);
      expect(response.headers['content-type']).toBe('application/x-tar');
      expect(Number(response.headers['content-length'])).toBe(bundle.length);
      expect(response.headers.etag).toBe(`"${sha256Of(manifestOf(bundle))}"`);
    });

    it('holds every part SPEC section 13 names, signed with the published key', async () => {
      const checked = await checkBundle(bundle, publicKeyPem);
      expect(checked.problems).toEqual([]);
      const names = [...checked.entries.keys()];
      const [a, b] = audio;
      expect(names).toEqual([
        'case.json',
        'notes.json',
        `audio/${a!.id}.wav`,
        `audio/${b!.id}.wav`,
        `transcriptions/${a!.id}/v1.json`,
        `transcriptions/${a!.id}/v2.json`,
        `analysis/${a!.id}/v1.json`,
        `conversations/${conversationId}.json`,
        'audit.jsonl',
        'manifest.json',
        'manifest.sig',
      ]);
      expect(checked.entries.get(`audio/${a!.id}.wav`)).toEqual(a!.bytes);
      expect(checked.entries.get(`audio/${b!.id}.wav`)).toEqual(b!.bytes);
      expect(checked.manifest).toMatchObject({
        caseId,
        exportId: exported.id,
        keyId,
        generatedBy: { id: lead.userId },
        generatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect(checked.manifest!.files.map((f) => f.path)).toEqual(names.slice(0, -2));

      const notes = JSON.parse(checked.entries.get('notes.json')!.toString()) as { body: string }[];
      expect(notes.map((n) => n.body)).toEqual(['Caller reported a break-in.']);
      const v2 = JSON.parse(checked.entries.get(`transcriptions/${a!.id}/v2.json`)!.toString());
      expect(v2).toMatchObject({ version: 2, content: expect.stringContaining('please') });
      const conversation = JSON.parse(
        checked.entries.get(`conversations/${conversationId}.json`)!.toString(),
      ) as { conversation: { id: string }; sealHash: string | null; turns: unknown[] };
      expect(conversation.conversation.id).toBe(conversationId);
      expect(conversation).toHaveProperty('sealHash');
      expect(conversation.turns).toHaveLength(3);
      expect(JSON.stringify(conversation)).not.toMatch(/joinPassword|argon2/);
    });

    it('carries every audit entry about the case, each hash recomputable, up to the signed audit head', async () => {
      const checked = await checkBundle(bundle, publicKeyPem);
      const lines = checked.entries
        .get('audit.jsonl')!
        .toString()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const head = checked.manifest!.auditHead!;
      const stored = await t.db.query<{ hash: string }[]>(
        `SELECT hash FROM audit_logs WHERE id = $1`,
        [head.id],
      );
      expect(stored[0]?.hash).toBe(head.hash);
      const expected = await t.db.query<{ id: string }[]>(
        `SELECT a.id::text AS id FROM audit_logs a WHERE a.case_id = $1 AND a.id <= $2 ORDER BY a.id`,
        [caseId, head.id],
      );
      expect(lines.map((l) => l.id)).toEqual(expected.map((r) => r.id));
      for (const line of lines) {
        expect(line.caseId).toBe(caseId);
        expect(auditLineHash(line)).toBe(line.hash);
      }
      expect(lines.map((l) => l.action)).toEqual(
        expect.arrayContaining(['case.create', 'audio.upload', 'case.note_add', 'case.export']),
      );
    });

    it('fails verification when any single byte of any entry, or of the manifest, changes', async () => {
      const layout = ustarLayout(bundle);
      expect(layout.map((e) => e.name)).toEqual([...(await tarEntries(bundle)).map(([n]) => n)]);
      const key = createPublicKey(publicKeyPem);
      expect((await verifyBundle(Readable.from([bundle]), key)).valid).toBe(true);
      for (const entry of layout) {
        for (const at of [0, Math.floor(entry.size / 2), entry.size - 1]) {
          const tampered = Buffer.from(bundle);
          tampered[entry.data + at]! ^= 0x01;
          const independent = await checkBundle(tampered, publicKeyPem);
          expect({ entry: entry.name, at, ok: independent.ok }).toEqual({
            entry: entry.name,
            at,
            ok: false,
          });
          const app = await verifyBundle(Readable.from([tampered]), key);
          expect({ entry: entry.name, at, valid: app.valid }).toEqual({
            entry: entry.name,
            at,
            valid: false,
          });
        }
      }
    });

    it('fails verification when an entry is renamed, dropped or added', async () => {
      const key = createPublicKey(publicKeyPem);
      const layout = ustarLayout(bundle);
      const notes = layout.find((e) => e.name === 'notes.json')!;
      const renamed = Buffer.from(bundle);
      renamed.write('N', notes.header, 'latin1'); // the header checksum no longer matches either
      expect((await checkBundle(renamed, publicKeyPem)).ok).toBe(false);
      expect((await verifyBundle(Readable.from([renamed]), key)).valid).toBe(false);

      const dropped = Buffer.concat([
        bundle.subarray(0, notes.header),
        bundle.subarray(notes.data + Math.ceil(notes.size / 512) * 512),
      ]);
      expect((await checkBundle(dropped, publicKeyPem)).ok).toBe(false);
      expect((await verifyBundle(Readable.from([dropped]), key)).valid).toBe(false);
    });

    it('verify-bundle (CLI) passes the bundle and fails a tampered one, offline with the public key', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'verbatim-verify-'));
      try {
        const file = join(dir, 'bundle.tar');
        const keyFile = join(dir, 'key.pem');
        await writeFile(file, bundle);
        await writeFile(keyFile, publicKeyPem);
        // No database, no Redis: the command must not need them.
        const env = {
          ...process.env,
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
          REDIS_URL: 'redis://127.0.0.1:1',
        };
        const cli = (args: string[]) =>
          run('npx', ['ts-node', '-T', 'src/cli.ts', 'verify-bundle', ...args], { env }).then(
            ({ stdout }) => ({ code: 0, stdout }),
            (error: { code: number; stdout: string }) => ({
              code: error.code,
              stdout: error.stdout,
            }),
          );
        const good = await cli([file, '--key', keyFile]);
        expect(good).toMatchObject({ code: 0 });
        expect(good.stdout).toMatch(/valid/i);
        // The key from the server's well-known URL, as an auditor with network access would.
        const port = (t.app.getHttpServer().address() as AddressInfo).port;
        const byUrl = await cli([
          file,
          '--key',
          `http://127.0.0.1:${port}/.well-known/verbatim-signing-key`,
        ]);
        expect(byUrl).toMatchObject({ code: 0 });
        // On the server: the key published under the manifest's keyId in KEYS_DIR.
        const published = await run(
          'npx',
          ['ts-node', '-T', 'src/cli.ts', 'verify-bundle', file, '--json'],
          { env: { ...env, KEYS_DIR: t.keysDir } },
        );
        expect(JSON.parse(published.stdout)).toMatchObject({ valid: true, keyId, problems: [] });

        const manifest = ustarLayout(bundle).find((e) => e.name === 'manifest.json')!;
        const tampered = Buffer.from(bundle);
        tampered[manifest.data + 10]! ^= 0x01;
        await writeFile(file, tampered);
        const bad = await cli([file, '--key', keyFile]);
        expect(bad.code).toBe(1);
        expect(bad.stdout).toMatch(/signature/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 240_000);

    it('audits the request, the build and every download on the case', async () => {
      await download(t.http, lead.auth, exported.id).expect(200);
      const rows = await t.db.query<
        { action: string; actor_id: string | null; details: Record<string, unknown> }[]
      >(
        `SELECT action, actor_id, details FROM audit_logs
          WHERE case_id = $1 AND resource_type = 'export' AND resource_id = $2 ORDER BY id`,
        [caseId, exported.id],
      );
      expect(rows[0]).toMatchObject({ action: 'case.export', actor_id: lead.userId });
      expect(rows[1]).toMatchObject({
        action: 'export.complete',
        details: expect.objectContaining({ manifestSha256: sha256Of(manifestOf(bundle)), keyId }),
      });
      const downloads = rows.filter((r) => r.action === 'export.download');
      expect(downloads.length).toBeGreaterThanOrEqual(3);
      expect(downloads.every((r) => r.actor_id === lead.userId)).toBe(true);
    });
  });

  describe('expiry', () => {
    it('refuses downloads once expired and the sweep removes the bundle from storage', async () => {
      const caseId = await createCase(t.http, lead.auth, 'Expiring export');
      await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(1) });
      const exported = await exportCase(t, lead, caseId);
      const file = join(t.storageRoot, 'exports', `${exported.id}.tar`);
      expect((await stat(file)).size).toBe(exported.sizeBytes);

      // Access tokens follow the clock too: log in again after each jump.
      const again = () => login(t.http, lead.user.username, lead.user.password);
      clock.advance(71 * 3_600_000);
      await download(t.http, (await again()).auth, exported.id).expect(200);
      clock.advance(2 * 3_600_000);
      const gone = await download(t.http, (await again()).auth, exported.id);
      expect(gone.status).toBe(410);

      const queue = t.app.get<Queue>(getQueueToken(QueueName.CaseExport));
      const job = await queue.add(ExportJobName.Expire, { requestedBy: null });
      const swept = await waitForJob(t.http, (await loginAsAdmin(t.http)).auth, job.id!);
      expect(swept.state).toBe('completed');
      await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
      const described = await describeExport(t.http, (await again()).auth, exported.id);
      expect(described.body).toMatchObject({ status: 'expired', downloadUrl: null });
      const audit = await t.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_logs WHERE action = 'export.expire' AND resource_id = $1`,
        [exported.id],
      );
      expect(audit[0]!.n).toBe(1);
    });
  });

  describe('authorization', () => {
    let sessions: Record<CaseCaller, Session>;
    let caseId: string;
    let exportId: string;

    beforeAll(async () => {
      sessions = await caseCallerSessions(t.http, admin);
      caseId = await createCase(t.http, sessions.lead.auth, 'Export matrix');
      await addParticipant(t, sessions.lead, caseId, sessions.member.userId, 'member');
      await addParticipant(t, sessions.lead, caseId, sessions.viewer.userId, 'viewer');
      await uploadAudio(t, sessions.lead.auth, caseId, { content: wavBuffer(1) });
      exportId = (await exportCase(t, sessions.lead, caseId)).id;
    });

    const POST: Record<CaseCaller, number> = {
      lead: 202,
      member: 202,
      viewer: 202,
      outsider: 404,
      supervisor: 202,
      auditor: 202,
      processor: 403, // no cases:read
    };
    it.each(CASE_CALLERS)('POST /cases/:id/export as %s', async (caller) => {
      const response = await requestExport(t, sessions[caller].auth, caseId);
      expect(response.status).toBe(POST[caller]);
    });

    // The requester, or whoever sees every case (with cases:read and audio:read).
    const GET: Record<CaseCaller, number> = {
      lead: 200,
      member: 404,
      viewer: 404,
      outsider: 404,
      supervisor: 200,
      auditor: 200,
      processor: 403,
    };
    it.each(CASE_CALLERS)('GET /exports/:id (tar and description) as %s', async (caller) => {
      const tar = await download(t.http, sessions[caller].auth, exportId);
      expect(tar.status).toBe(GET[caller]);
      const described = await describeExport(t.http, sessions[caller].auth, exportId);
      expect(described.status).toBe(GET[caller]);
    });

    it('needs authentication, and answers 404 for an unknown export', async () => {
      await t.http.get(`/api/v1/exports/${exportId}`).expect(401);
      await t.http.post(`/api/v1/cases/${caseId}/export`).expect(401);
      const unknown = await download(t.http, admin.auth, '00000000-0000-4000-8000-000000000000');
      expect(unknown.status).toBe(404);
    });

    it('a requester removed from the case no longer sees the export', async () => {
      const kase = await createCase(t.http, sessions.lead.auth, 'Export removal');
      const member = await userSession(t.http, admin, 'case_worker');
      await addParticipant(t, sessions.lead, kase, member.userId, 'member');
      const own = await exportCase(t, member, kase);
      await t.http
        .delete(`/api/v1/cases/${kase}/participants/${member.userId}`)
        .set(sessions.lead.auth)
        .expect(204);
      expect((await download(t.http, member.auth, own.id)).status).toBe(404);
      expect((await describeExport(t.http, member.auth, own.id)).status).toBe(404);
    });
  });
});

describe('Signed case export before its job has run', () => {
  let t: TestApp & { storageRoot: string };
  let lead: Session;

  beforeAll(async () => {
    t = await startExportApp('noworkers', { WORKERS_ENABLED: 'false' });
    const admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  it('is queued, answers a download with 409 and Retry-After, and a repeated request returns it', async () => {
    const caseId = await createCase(t.http, lead.auth, 'Pending export');
    const first = await requestExport(t, lead.auth, caseId);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'queued', downloadUrl: null, sizeBytes: null });
    const again = await requestExport(t, lead.auth, caseId);
    expect(again.body.id).toBe(first.body.id);
    const early = await download(t.http, lead.auth, first.body.id as string);
    expect(early.status).toBe(409);
    expect(early.headers['retry-after']).toBe('5');
    const described = await describeExport(t.http, lead.auth, first.body.id as string);
    expect(described.body.status).toBe('queued');
  });
});

describe('Signed case export whose build fails', () => {
  let t: TestApp & { storageRoot: string };
  let admin: Session;
  let lead: Session;
  let member: Session;

  beforeAll(async () => {
    t = await startExportApp('fail');
    admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
    member = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  interface NotificationView {
    type: string;
    resourceType: string;
    resourceId: string;
    caseId: string | null;
    data: Record<string, unknown>;
  }
  const notificationsAbout = async (session: Session, exportId: string) =>
    (
      (await t.http.get('/api/v1/me/notifications?limit=100').set(session.auth).expect(200)).body
        .data as NotificationView[]
    ).filter((n) => n.resourceId === exportId);

  /** Every file under storage's exports/ whose name is about the export (bundle or partial). */
  const storedBundleFiles = async (exportId: string) =>
    (await readdir(join(t.storageRoot, 'exports')).catch(() => [] as string[])).filter((name) =>
      name.includes(exportId),
    );

  /**
   * Requests an export that is bound to fail, waits for its job to use its three
   * attempts, and checks the outcome README "Signed case exports" documents: the export
   * `failed` with a reason fit for the requester (no path of the server), the job failed
   * with the same reason, a 409 download, no bundle left in storage, `export.fail`
   * audited on the case, and `job.failed` for the requester alone.
   */
  async function expectFailedExport(caseId: string, reason: RegExp): Promise<string> {
    const accepted = await requestExport(t, lead.auth, caseId);
    expect(accepted.status).toBe(202);
    const { id, jobId } = accepted.body as ExportBody;
    // Three attempts with 5 s and 10 s of backoff between them.
    const job = await waitForJob(t.http, lead.auth, jobId, 120_000);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(reason);
    expect(job.error).not.toContain(t.storageRoot);

    const described = await describeExport(t.http, lead.auth, id);
    expect(described.body).toMatchObject({
      status: 'failed',
      error: job.error,
      downloadUrl: null,
      sizeBytes: null,
      manifestSha256: null,
    });
    const refused = await download(t.http, lead.auth, id);
    expect(refused.status).toBe(409);
    expect(JSON.parse((refused.body as Buffer).toString())).toMatchObject({
      type: expect.stringMatching(/\/export-failed$/),
    });
    expect(await storedBundleFiles(id)).toEqual([]);

    const audit = await t.db.query<
      { action: string; actor_id: string | null; outcome: string; details: { reason?: string } }[]
    >(
      `SELECT action, actor_id, outcome, details FROM audit_logs
        WHERE case_id = $1 AND resource_type = 'export' AND resource_id = $2 ORDER BY id`,
      [caseId, id],
    );
    expect(audit).toEqual([
      expect.objectContaining({ action: 'case.export', actor_id: lead.userId }),
      expect.objectContaining({
        action: 'export.fail',
        actor_id: null,
        outcome: 'failure',
        details: expect.objectContaining({ reason: job.error }),
      }),
    ]);

    const told = await notificationsAbout(lead, id);
    expect(told).toEqual([
      expect.objectContaining({
        type: 'job.failed',
        resourceType: 'export',
        caseId,
        data: expect.objectContaining({ jobId, exportId: id, error: job.error }),
      }),
    ]);
    // The export is the requester's: the other participant cannot see it, nor hears of it.
    expect(await notificationsAbout(member, id)).toEqual([]);
    return id;
  }

  it('fails when an audio file is missing from storage, and a new request succeeds once it is back', async () => {
    const caseId = await createCase(t.http, lead.auth, 'Export of lost audio');
    await addParticipant(t, lead, caseId, member.userId, 'member');
    const bytes = wavBuffer(1);
    const uploaded = await uploadAudio(t, lead.auth, caseId, { content: bytes });
    expect(uploaded.status).toBe(201);
    const audioId = uploaded.body.id as string;
    const stored = join(t.storageRoot, uploaded.body.storageKey as string);
    const aside = `${t.storageRoot}-aside.wav`;
    await rename(stored, aside);

    const failed = await expectFailedExport(
      caseId,
      new RegExp(`^Audio file ${audioId} is missing from storage$`),
    );

    await rename(aside, stored);
    const again = await exportCase(t, lead, caseId);
    expect(again.id).not.toBe(failed);
    const bundle = (await download(t.http, lead.auth, again.id).expect(200)).body as Buffer;
    const { publicKeyPem } = (await t.http.get('/.well-known/verbatim-signing-key').expect(200))
      .body as { publicKeyPem: string };
    const checked = await checkBundle(bundle, publicKeyPem);
    expect(checked.problems).toEqual([]);
    expect(checked.entries.get(`audio/${audioId}.wav`)).toEqual(bytes);
    const auditLines = checked.entries.get('audit.jsonl')!.toString();
    expect(auditLines).toContain(`"resourceId":"${failed}"`);
    expect(auditLines).toContain('"action":"export.fail"');
  }, 240_000);

  it('fails when storage refuses the bundle, without showing the storage error, and a new request succeeds once storage is fixed', async () => {
    const caseId = await createCase(t.http, lead.auth, 'Export onto broken storage');
    await addParticipant(t, lead, caseId, member.userId, 'member');
    await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(1) });
    // A file where the exports directory should be: every bundle write fails (ENOTDIR).
    const exportsDir = join(t.storageRoot, 'exports');
    await rm(exportsDir, { recursive: true, force: true });
    await writeFile(exportsDir, 'not a directory');

    await expectFailedExport(caseId, /^The bundle could not be built or stored \(/);

    await rm(exportsDir);
    const again = await exportCase(t, lead, caseId);
    expect(again.status).toBe('ready');
    expect((await download(t.http, lead.auth, again.id)).status).toBe(200);
  }, 240_000);

  it('lists a deleted audio file in case.json without its bytes, and still builds', async () => {
    const caseId = await createCase(t.http, lead.auth, 'Export with a deleted file');
    const kept = await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(1) });
    const gone = await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(2) });
    const deleted = await t.http.delete(`/api/v1/audio/${gone.body.id as string}`).set(admin.auth);
    expect(deleted.status).toBe(202);
    expect((await waitForJob(t.http, admin.auth, deleted.body.jobId as string)).state).toBe(
      'completed',
    );
    const exported = await exportCase(t, lead, caseId);
    const bundle = (await download(t.http, lead.auth, exported.id).expect(200)).body as Buffer;
    const entries = await tarEntries(bundle);
    const names = entries.map(([name]) => name);
    expect(names).toContain(`audio/${kept.body.id as string}.wav`);
    expect(names.filter((name) => name.startsWith('audio/'))).toHaveLength(1);
    const kase = JSON.parse(entries.find(([name]) => name === 'case.json')![1].toString()) as {
      audio: { id: string; entry: string | null; deletedAt: string | null }[];
    };
    expect(kase.audio).toEqual([
      expect.objectContaining({ id: kept.body.id, entry: `audio/${kept.body.id as string}.wav` }),
      expect.objectContaining({ id: gone.body.id, entry: null, deletedAt: expect.any(String) }),
    ]);
  });
});
