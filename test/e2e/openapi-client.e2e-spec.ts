import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { randomIp, TestApp } from '../support/app';
import { baseUrlOf, startAudioApp, wavBuffer } from '../support/audio';
import { ADMIN } from '../support/test-run';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

/**
 * openapi-typescript is ESM only and Jest runs CommonJS, so it runs in a child Node
 * process, exactly as a client project would run it: document in, `paths` types out.
 */
const GENERATE = `
import openapiTS, { astToString } from 'openapi-typescript';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
// Properties with a default stay optional: the server fills them in when omitted.
const ast = await openapiTS(pathToFileURL(process.env.OPENAPI_INPUT), { defaultNonNullable: false });
writeFileSync(process.env.OPENAPI_OUTPUT, astToString(ast));
`;

/**
 * The client program: typed by the generated `paths`, so a path, parameter or body the
 * document does not describe fails the type check below, before anything runs.
 */
const FLOW = `
import createClient from 'openapi-fetch';
import type { paths } from './api';

export interface FlowResult {
  caseId: string;
  audioId: string;
  audioStatus: string;
  transcriptionId: string;
  version: number;
  content: string;
}

function fail(step: string, response: Response, error: unknown): never {
  throw new Error(step + ': HTTP ' + response.status + ' ' + JSON.stringify(error));
}

export async function flow(
  baseUrl: string,
  login: string,
  password: string,
  wav: Uint8Array<ArrayBuffer>,
  clientIp: string,
): Promise<FlowResult> {
  const client = createClient<paths>({ baseUrl, headers: { 'x-forwarded-for': clientIp } });

  const session = await client.POST('/api/v1/auth/login', { body: { login, password } });
  if (!session.data) return fail('login', session.response, session.error);
  const headers = { authorization: 'Bearer ' + session.data.accessToken };

  const created = await client.POST('/api/v1/cases', {
    headers,
    body: { title: 'Filed through the generated client', priority: 'high' },
  });
  if (!created.data) return fail('create case', created.response, created.error);
  const caseId = created.data.id;

  const uploaded = await client.POST('/api/v1/cases/{id}/audio', {
    params: { path: { id: caseId } },
    headers,
    body: { language: 'en', file: 'interview.wav' },
    bodySerializer(body) {
      const form = new FormData();
      if (body.language) form.append('language', body.language);
      form.append('file', new Blob([wav], { type: 'audio/wav' }), body.file);
      return form;
    },
  });
  if (!uploaded.data) return fail('upload audio', uploaded.response, uploaded.error);
  const audioId = uploaded.data.id;

  const claimed = await client.POST('/api/v1/audio/{id}/claim', {
    params: { path: { id: audioId } },
    headers,
  });
  if (!claimed.data) return fail('claim audio', claimed.response, claimed.error);

  const posted = await client.POST('/api/v1/audio/{id}/transcriptions', {
    params: { path: { id: audioId } },
    headers,
    body: {
      engine: 'openapi-client',
      audioSha256: uploaded.data.sha256,
      segments: [
        { start: 0, end: 0.4, speaker: 'Speaker_0', text: 'Typed all the way.' },
        { start: 0.4, end: 0.9, speaker: 'Speaker_1', text: 'Understood.' },
      ],
    },
  });
  if (posted.response.status !== 201 || !posted.data || !('version' in posted.data)) {
    return fail('post transcription', posted.response, posted.error);
  }

  const latest = await client.GET('/api/v1/audio/{id}/transcriptions/latest', {
    params: { path: { id: audioId } },
    headers,
  });
  if (!latest.data) return fail('latest transcription', latest.response, latest.error);
  const audio = await client.GET('/api/v1/audio/{id}', {
    params: { path: { id: audioId } },
    headers,
  });
  if (!audio.data) return fail('audio', audio.response, audio.error);
  return {
    caseId,
    audioId,
    audioStatus: audio.data.status,
    transcriptionId: latest.data.id,
    version: latest.data.version,
    content: latest.data.content,
  };
}
`;

/** A call the document does not allow: a case without its required title. */
const WRONG = `
import createClient from 'openapi-fetch';
import type { paths } from './api';
export const call = () =>
  createClient<paths>({ baseUrl: 'http://127.0.0.1' }).POST('/api/v1/cases', {
    body: { description: 'no title' },
  });
`;

function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('OpenAPI document drives a generated client (issue 12)', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    t = await startAudioApp('openapi-client');
    dir = await mkdtemp(join(tmpdir(), 'verbatim-openapi-client-'));
    // The client project resolves openapi-fetch (and TypeScript's lib files) from ours.
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the contract is proven by a client: generates typed paths with openapi-typescript, type-checks a client against them, and logs in, creates a case, uploads audio and posts a transcription through openapi-fetch', async () => {
    const document = await t.http.get('/docs-json').expect(200);
    await writeFile(join(dir, 'openapi.json'), JSON.stringify(document.body));

    const generated = await run(process.execPath, ['--input-type=module', '-e', GENERATE], {
      cwd: ROOT,
      env: {
        ...process.env,
        OPENAPI_INPUT: join(dir, 'openapi.json'),
        OPENAPI_OUTPUT: join(dir, 'api.d.ts'),
      },
    }).catch((error: { stderr?: string }) => {
      throw new Error(`openapi-typescript failed on the live document:\n${error.stderr}`);
    });
    expect(generated.stderr).not.toMatch(/error|resolve/i);

    await writeFile(join(dir, 'flow.ts'), FLOW);
    await writeFile(join(dir, 'wrong.ts'), WRONG);
    expect(typeErrors([join(dir, 'flow.ts')])).toEqual([]);
    // The check has teeth: what the document forbids does not compile.
    expect(typeErrors([join(dir, 'wrong.ts')]).join('\n')).toMatch(/title/);

    const compiled = ts.transpileModule(FLOW, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    });
    await writeFile(join(dir, 'flow.js'), compiled.outputText);
    await writeFile(join(dir, 'wav.bin'), wavBuffer(1));
    const driver = `
      const { readFileSync } = require('node:fs');
      const { flow } = require(${JSON.stringify(join(dir, 'flow.js'))});
      const [baseUrl, login, password, wav, ip] = process.argv.slice(1);
      flow(baseUrl, login, password, new Uint8Array(readFileSync(wav)), ip).then(
        (result) => process.stdout.write(JSON.stringify(result)),
        (error) => { process.stderr.write(String(error.stack || error)); process.exit(1); },
      );`;
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        driver,
        baseUrlOf(t),
        ADMIN.username,
        ADMIN.password,
        join(dir, 'wav.bin'),
        randomIp(),
      ],
      { cwd: dir },
    ).catch((error: { stderr?: string }) => {
      throw new Error(`the generated client's flow failed:\n${error.stderr}`);
    });
    const result = JSON.parse(stdout) as {
      caseId: string;
      audioId: string;
      audioStatus: string;
      transcriptionId: string;
      version: number;
      content: string;
    };

    expect(result.version).toBe(1);
    expect(result.audioStatus).toBe('processed');
    expect(result.content).toContain('Typed all the way.');
    // What the client did is really there, seen through the database.
    const [row] = await t.db.query<{ case_id: string; audio_file_id: string }[]>(
      `SELECT a.case_id, t.audio_file_id FROM transcriptions t
         JOIN audio_files a ON a.id = t.audio_file_id WHERE t.id = $1`,
      [result.transcriptionId],
    );
    expect(row).toEqual({ case_id: result.caseId, audio_file_id: result.audioId });
  });
});
