import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { CliModule } from '../../src/cli/cli.module';
import { SeedCommand } from '../../src/cli/commands';
import { DEMO_ADMIN, DEMO_USERS } from '../../src/seed/demo-data';
import { login, startApp, TestApp } from '../support/app';
import { isolatedDatabase } from '../support/isolated-database';

/**
 * `cli seed --demo` (SPEC section 12, newcomer demo): users of every role with passwords
 * printed once, cases with audio, transcriptions and analyses, and a conversation with
 * persisted turns, all created through the API so they are audited like real work.
 * A database, storage root and Redis prefix of its own.
 */
describe('cli seed --demo', () => {
  let database: { url: string; drop: () => Promise<void> };
  let storageRoot: string;
  const env: Record<string, string> = {};
  const saved: Record<string, string | undefined> = {};
  let cli: INestApplicationContext;
  let db: DataSource;
  let printed: string[] = [];

  beforeAll(async () => {
    database = await isolatedDatabase('demo');
    storageRoot = await mkdtemp(join(tmpdir(), 'verbatim-demo-storage-'));
    Object.assign(env, {
      DATABASE_URL: database.url,
      STORAGE_LOCAL_ROOT: storageRoot,
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-demo`,
    });
    for (const key of Object.keys(env)) saved[key] = process.env[key];
    Object.assign(process.env, env);
    cli = await NestFactory.createApplicationContext(CliModule, { logger: false });
    db = cli.get(DataSource);
  });

  afterAll(async () => {
    await cli?.close();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await database?.drop();
    await rm(storageRoot, { recursive: true, force: true });
  });

  async function seed(): Promise<string[]> {
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      await cli.get(SeedCommand).run([], { demo: true });
    } finally {
      log.mockRestore();
    }
    return lines;
  }

  const count = async (sql: string) =>
    Number((await db.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${sql}`))[0]!.n);

  it('creates users of each role, cases, audio, transcriptions, analyses and turns', async () => {
    printed = await seed();
    expect(await count(`users WHERE username LIKE 'demo.%'`)).toBe(DEMO_USERS.length + 1);
    const roles = await db.query<{ role: string }[]>(
      `SELECT DISTINCT role FROM users WHERE username LIKE 'demo.%' ORDER BY role`,
    );
    expect(roles.map((r) => r.role)).toEqual([
      'admin',
      'auditor',
      'case_worker',
      'processor',
      'supervisor',
    ]);
    expect(await count('cases')).toBe(3);
    expect(await count('audio_files')).toBe(3);
    expect(await count('transcriptions')).toBe(3);
    expect(await count('analysis_results')).toBe(3);
    expect(await count('conversations')).toBe(1);
    expect(await count('turns')).toBe(8);
    // Created through the API: audited like a client's work.
    expect(await count(`audit_logs WHERE action = 'case.create'`)).toBe(3);
    expect(await count(`audit_logs WHERE action = 'audio.upload'`)).toBe(3);
  });

  it('prints each demo password once, and they sign in', async () => {
    const t: TestApp = await startApp(env);
    try {
      for (const username of [DEMO_ADMIN, ...DEMO_USERS.map((u) => u.username)]) {
        const line = printed.find((l) => l.trim().startsWith(`${username} `));
        expect(line).toBeDefined();
        const password = line!.trim().split(/\s+/).pop()!;
        const session = await login(t.http, username, password);
        expect(session.auth.Authorization).toMatch(/^Bearer /);
      }
      // The case worker leads the demo cases and sees them.
      const worker = printed.find((l) => l.trim().startsWith('demo.caseworker '))!;
      const session = await login(t.http, 'demo.caseworker', worker.trim().split(/\s+/).pop()!);
      const cases = await t.http.get('/api/v1/cases').set(session.auth).expect(200);
      expect(cases.body.meta.total).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('runs once: a second --demo changes nothing', async () => {
    const lines = await seed();
    expect(lines).toContain(`Demo data present ("${DEMO_ADMIN}" exists); nothing changed`);
    expect(await count('cases')).toBe(3);
  });
});
