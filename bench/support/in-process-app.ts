import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { BENCH_DB_ADMIN, throwawayDatabase } from '../bench-db';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** What a benchmark gets to work with: the app, its storage and an admin's token. */
export interface InProcessApp {
  app: NestFastifyApplication;
  /** BENCH_DIR, or a temporary directory removed afterwards. */
  dir: string;
  /** The local driver's root (`<dir>/storage`). */
  storageRoot: string;
  /** The throwaway database, open (pool of 4) for the benchmark's own queries. */
  dataSource: DataSource;
  /** `http://127.0.0.1:<port>/api/v1` */
  base: string;
  /** The seeded admin's bearer token. */
  auth: { Authorization: string };
  /** One JSON request to `base` + path. */
  call: (
    method: string,
    path: string,
    auth?: Record<string, string>,
    body?: unknown,
  ) => Promise<Answer>;
  /** curl with the admin's token, in its own process (so the app's holds only the server). */
  curl: (args: string[]) => Promise<string>;
}

/**
 * Runs `bench` against the real app as `createApp()` builds it for production (with its
 * in-process workers, local storage driver) in this process on loopback, over a throwaway
 * migrated and seeded database (bench-db.ts) and Redis prefix. The app, database, Redis
 * keys and (unless BENCH_DIR is set) directory are removed afterwards, whatever happens.
 * Shared by the byte-moving benchmarks (storage, export), which compare the app with a
 * shell baseline on the same disk.
 */
export async function withInProcessApp<T>(
  label: string,
  bench: (app: InProcessApp) => Promise<T>,
): Promise<T> {
  const dir = process.env.BENCH_DIR ?? (await mkdtemp(join(tmpdir(), `verbatim-bench-${label}-`)));
  await mkdir(dir, { recursive: true });
  const redisPrefix = `vbench-${label}-${randomBytes(3).toString('hex')}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const db = await throwawayDatabase(label);
  let app: NestFastifyApplication | undefined;
  try {
    const storageRoot = join(dir, 'storage');
    Object.assign(process.env, {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '10000000',
      STORAGE_DRIVER: 'local',
      STORAGE_LOCAL_ROOT: storageRoot,
      KEYS_DIR: join(dir, 'keys'),
      WORKERS_ENABLED: 'true',
    });
    // Imported only now: the config module validates the environment when first loaded.
    const { createApp } = await import('../../src/app.factory');
    app = await createApp();
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}/api/v1`;
    const call = async (
      method: string,
      path: string,
      auth: Record<string, string> = {},
      body?: unknown,
    ): Promise<Answer> => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return {
        status: response.status,
        body: (await response.json().catch(() => ({}))) as Record<string, unknown>,
      };
    };
    const login = await call(
      'POST',
      '/auth/login',
      {},
      {
        login: BENCH_DB_ADMIN.username,
        password: BENCH_DB_ADMIN.password,
      },
    );
    if (login.status !== 200) throw new Error(`bench login: ${login.status}`);
    const auth = { Authorization: `Bearer ${login.body.accessToken as string}` };
    const curl = (args: string[]) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          'curl',
          ['-sS', '-H', `Authorization: ${auth.Authorization}`, ...args],
          { maxBuffer: 16 * 1024 * 1024 },
          (error, stdout) => (error ? reject(new Error(error.message)) : resolve(stdout)),
        );
      });
    return await bench({
      app,
      dir,
      storageRoot,
      dataSource: db.dataSource,
      base,
      auth,
      call,
      curl,
    });
  } finally {
    await app?.close();
    await db.drop().catch(() => undefined);
    const redis = new Redis(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
    if (!process.env.BENCH_DIR) await rm(dir, { recursive: true, force: true });
  }
}
