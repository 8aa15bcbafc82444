import { createServer } from 'node:net';
import { DataSource } from 'typeorm';
import { TestClock } from '../../src/core/clock/clock';
import { databaseOptions } from '../../src/core/database/database-options';
import { REPLICA_RETRY_AFTER_MS } from '../../src/core/database/replica-reads';
import { loginAsAdmin, Session, startApp, TestApp } from '../support/app';
import { startPgPair, PgPair } from '../support/pg-replica';
import { seedDatabase } from '../support/seed-fixture';
import { ADMIN } from '../support/test-run';
import { createConversation } from '../support/turns';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Read replicas (SPEC section 12, R10) against a real streaming replica: a primary and a
 * replica the spec starts itself (initdb, pg_basebackup -R). Lists and search read from
 * the replica, writes and reads of one's own writes from the primary; a stopped replica
 * is skipped without a 5xx. Pausing WAL replay on the replica makes "which server answered"
 * visible: a write then shows on the primary only.
 */
describe('Read replicas (SPEC section 12)', () => {
  const clock = new TestClock();
  let pair: PgPair;
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    pair = await startPgPair({ primary: await freePort(), replica: await freePort() });
    const dataSource = new DataSource(databaseOptions({ url: pair.primaryUrl, poolSize: 2 }));
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    await seedDatabase(dataSource, ADMIN);
    await dataSource.destroy();
    await pair.caughtUp();
    t = await startApp(
      {
        DATABASE_URL: pair.primaryUrl,
        DATABASE_REPLICA_URLS: pair.replicaUrl,
        REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-replicas`,
      },
      { clock },
    );
    admin = await loginAsAdmin(t.http);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await pair?.stop();
  });

  const caseIds = async (query = '') =>
    (
      (await t.http.get(`/api/v1/cases${query}`).set(admin.auth).expect(200)).body as {
        data: { id: string }[];
      }
    ).data.map((c) => c.id);
  const conversationIds = async () =>
    (
      (await t.http.get('/api/v1/conversations').set(admin.auth).expect(200)).body as {
        data: { id: string }[];
      }
    ).data.map((c) => c.id);
  const searchIds = async (q: string) =>
    (
      (await t.http.get(`/api/v1/search?q=${q}`).set(admin.auth).expect(200)).body as {
        data: { id: string }[];
      }
    ).data.map((hit) => hit.id);

  async function createCase(title: string): Promise<string> {
    const response = await t.http.post('/api/v1/cases').set(admin.auth).send({ title });
    expect(response.status).toBe(201);
    return (response.body as { id: string }).id;
  }

  it('lists and search read from the replica; writes and reads by id from the primary', async () => {
    await pair.pauseReplay();
    let caseId: string;
    let conversationId: string;
    try {
      caseId = await createCase('Replica lag zanzibar');
      conversationId = (await createConversation(t.http, admin)).id;
      // One's own write, read by id: the primary has it.
      await t.http.get(`/api/v1/cases/${caseId}`).set(admin.auth).expect(200);
      await t.http.get(`/api/v1/conversations/${conversationId}`).set(admin.auth).expect(200);
      // Lists and search come from the paused replica: not there yet.
      expect(await caseIds()).not.toContain(caseId);
      expect(await conversationIds()).not.toContain(conversationId);
      expect(await searchIds('zanzibar')).not.toContain(caseId);
    } finally {
      await pair.resumeReplay();
    }
    await pair.caughtUp();
    expect(await caseIds()).toContain(caseId);
    expect(await conversationIds()).toContain(conversationId);
    expect(await searchIds('zanzibar')).toContain(caseId);
  });

  it('skips a stopped replica without a 5xx, and uses it again once it is back', async () => {
    await pair.stopReplica();
    try {
      const caseId = await createCase('Written while the replica is down');
      // Every routed read falls back to the primary, which has the new case.
      expect(await caseIds()).toContain(caseId);
      expect(await conversationIds()).toEqual(expect.any(Array));
      await t.http.get('/api/v1/search?q=replica').set(admin.auth).expect(200);
      await t.http.get('/api/v1/audio').set(admin.auth).expect(200);
      const health = await t.http.get('/health/ready');
      expect(health.status).toBe(200);
    } finally {
      await pair.startReplica();
    }
    await pair.caughtUp();
    // After the back-off the replica serves lists again: a paused replica hides a new write.
    clock.advance(REPLICA_RETRY_AFTER_MS + 1);
    admin = await loginAsAdmin(t.http);
    await pair.pauseReplay();
    try {
      const hidden = await createCase('Written after the replica came back');
      expect(await caseIds()).not.toContain(hidden);
    } finally {
      await pair.resumeReplay();
    }
  });
});
