import { randomBytes } from 'node:crypto';

/** Where this test run's throwaway database and Redis keys live. */
export interface TestRun {
  id: string;
  serverUrl: string;
  databaseName: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
}

export const ADMIN = {
  username: 'admin',
  email: 'admin@verbatim.test',
  password: 'admin-password-for-tests-1',
};

export function planTestRun(): TestRun {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const configured = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
  );
  const databaseName = `verbatim_test_${id}`;
  const server = new URL(configured.toString());
  server.pathname = '/postgres';
  const database = new URL(configured.toString());
  database.pathname = `/${databaseName}`;
  return {
    id,
    serverUrl: server.toString(),
    databaseName,
    databaseUrl: database.toString(),
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    redisPrefix: `vbt-${id}`,
  };
}

/** The environment every test process of the run uses. */
export function testEnvironment(run: TestRun): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: run.databaseUrl,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: run.redisUrl,
    REDIS_PREFIX: run.redisPrefix,
    JWT_ALGORITHM: 'HS256',
    JWT_SECRET: `test-secret-${run.id}-${'x'.repeat(32)}`,
    TRUST_PROXY: 'true',
    RATE_LIMIT_MAX: '1000000',
    AUTH_FAILURES_MAX_PER_IP: '1000000',
    LOG_LEVEL: 'silent',
    ADMIN_USERNAME: ADMIN.username,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // Off: the sweep's cut-off follows the app's clock, so an app whose TestClock a spec
    // advanced by hours would end the live conversations of every spec sharing the
    // database. The idle spec turns it on with a database and queues of its own.
    CONVERSATION_IDLE_MINUTES: '0',
    // Off for the same reason: the lifecycle spec runs it with its own database and storage.
    MAINTENANCE_CRON: 'off',
    // Off for the same reason: the claims spec runs it with its own database and queues.
    CLAIM_SWEEP_SECONDS: '0',
  };
}
