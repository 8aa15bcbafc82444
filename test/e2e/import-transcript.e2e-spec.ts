import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginAsAdmin, Session, TestApp } from '../support/app';
import { startAudioApp, uploadAudio, wavBuffer } from '../support/audio';

const ROOT = join(__dirname, '..', '..');

/** `npm run cli -- import-transcript …` in a child process, against this run's database. */
function importTranscript(
  args: string[],
  storageRoot: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '-T', 'src/cli.ts', 'import-transcript', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, STORAGE_LOCAL_ROOT: storageRoot },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('Admin CLI: import-transcript (SPEC section 9)', () => {
  let t: TestApp & { storageRoot: string };
  let admin: Session;
  let files: string;
  let audioId: string;

  beforeAll(async () => {
    t = await startAudioApp('import');
    admin = await loginAsAdmin(t.http);
    files = await mkdtemp(join(tmpdir(), 'verbatim-import-'));
    const created = await t.http
      .post('/api/v1/cases')
      .set(admin.auth)
      .send({ title: 'Import target' })
      .expect(201);
    const uploaded = await uploadAudio(t, admin.auth, (created.body as { id: string }).id, {
      content: wavBuffer(10),
    });
    expect(uploaded.status).toBe(201);
    audioId = uploaded.body.id as string;
  });
  afterAll(async () => {
    await t.close();
    await rm(files, { recursive: true, force: true });
  });

  it('imports an SRT file as the next version, speakers and timings included, and audits it', async () => {
    const srt = join(files, 'hearing.srt');
    await writeFile(
      srt,
      '1\n00:00:00,500 --> 00:00:02,000\nJudge: Please be seated.\n\n2\n00:00:02,500 --> 00:00:04,250\nThank you.\n',
    );
    const run = await importTranscript(
      [srt, '--audio', audioId, '--engine', 'court-stenographer'],
      t.storageRoot,
    );
    expect(run).toMatchObject({ code: 0 });
    expect(run.output).toMatch(/Imported 2 segments as version 1/);
    const latest = await t.http
      .get(`/api/v1/audio/${audioId}/transcriptions/latest`)
      .set(admin.auth)
      .expect(200);
    expect(latest.body).toMatchObject({ version: 1, engine: 'court-stenographer' });
    expect(latest.body.segments).toEqual([
      expect.objectContaining({ start: 0.5, end: 2, speaker: 'Judge', text: 'Please be seated.' }),
      expect.objectContaining({ start: 2.5, end: 4.25, speaker: null, text: 'Thank you.' }),
    ]);
    const audit = await t.http
      .get('/api/v1/audit')
      .query({ action: 'transcription.create', resourceId: latest.body.id })
      .set(admin.auth)
      .expect(200);
    expect(audit.body.data).toEqual([
      expect.objectContaining({
        actorId: admin.userId,
        userAgent: 'verbatim-cli import-transcript',
      }),
    ]);
  });

  it('imports a JSON transcript as version n+1', async () => {
    const json = join(files, 'engine.json');
    await writeFile(
      json,
      JSON.stringify({
        segments: [{ start: 0, end: 1.5, speaker: 'A', text: 'Hello', confidence: 0.9 }],
        engine: 'whisper',
      }),
    );
    const run = await importTranscript([json, '--audio', audioId], t.storageRoot);
    expect(run.code).toBe(0);
    const latest = await t.http
      .get(`/api/v1/audio/${audioId}/transcriptions/latest`)
      .set(admin.auth)
      .expect(200);
    expect(latest.body).toMatchObject({ version: 2, parentVersion: 1, engine: 'whisper' });
  });

  it('refuses an invalid transcript with the reason and exit code 1, creating nothing', async () => {
    const bad = join(files, 'bad.json');
    await writeFile(bad, JSON.stringify({ segments: [{ start: 5, end: 1, text: 'backwards' }] }));
    const run = await importTranscript([bad, '--audio', audioId], t.storageRoot);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/segments\[0\]/);
    const latest = await t.http
      .get(`/api/v1/audio/${audioId}/transcriptions/latest`)
      .set(admin.auth)
      .expect(200);
    expect(latest.body.version).toBe(2);
  });
});
