import { ModuleMetadata } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { isolatedDatabase } from './isolated-database';

/** A Nest testing module of a spec's own, without HTTP: services and repositories only. */
export interface Integration {
  moduleRef: TestingModule;
  db: DataSource;
  /** The spec's own Redis prefix (every key the module writes starts with `<prefix>:`). */
  redisPrefix: string;
  close: () => Promise<void>;
}

/**
 * Compiles and initialises `metadata` with the environment `env` adds (the module's
 * AppConfig reads it once, when it is built), on a database of the spec's own unless
 * `sharedDatabase`, and always under a Redis prefix of its own, so the turn buffer's
 * stream and the like belong to this spec alone. `close` shuts the module down, drops
 * the database and deletes the prefix's keys.
 */
export async function bootIntegration(
  label: string,
  metadata: ModuleMetadata,
  options: { env?: Record<string, string>; sharedDatabase?: boolean } = {},
): Promise<Integration> {
  const database = options.sharedDatabase ? undefined : await isolatedDatabase(label);
  const redisPrefix = `${process.env.REDIS_PREFIX}-${label}-${randomBytes(3).toString('hex')}`;
  const overrides: Record<string, string> = {
    ...(database ? { DATABASE_URL: database.url } : {}),
    REDIS_PREFIX: redisPrefix,
    ...options.env,
  };
  const saved = Object.fromEntries(Object.keys(overrides).map((k) => [k, process.env[k]]));
  Object.assign(process.env, overrides);
  let moduleRef: TestingModule;
  try {
    moduleRef = await Test.createTestingModule(metadata).compile();
    // The services' own warnings (a dead-lettered turn, a broken chain) are what the specs provoke.
    moduleRef.useLogger(false);
    await moduleRef.init();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return {
    moduleRef,
    db: moduleRef.get(DataSource),
    redisPrefix,
    close: async () => {
      await moduleRef.close();
      await deleteKeys(`${redisPrefix}:*`);
      await database?.drop();
    },
  };
}

/** Deletes this spec's own keys (never anything outside its prefix). */
async function deleteKeys(pattern: string): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
