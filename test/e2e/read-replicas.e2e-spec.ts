import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { TestClock } from '../../src/core/clock/clock';
import { databaseOptions } from '../../src/core/database/database-options';
import { REPLICA_CATCH_UP_MS, REPLICA_RETRY_AFTER_MS } from '../../src/core/database/replica-reads';
import { loginAsAdmin, Session, startApp, TestApp } from '../support/app';
import { waitForJob } from '../support/audio';
import { tarEntries } from '../support/bundle-check';
import { startPgPair, PgPair } from '../support/pg-replica';
import { seedDatabase } from '../support/seed-fixture';
import { ADMIN } from '../support/test-run';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';
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
 * replica the spec starts itself (initdb, pg_basebackup -R). Lists, search, statistics
 * and export bundles read from the replica, writes and reads of one's own writes from the
 * primary; an export first waits for the replica to replay what the primary had; a
 * stopped replica is skipped without a 5xx. Pausing WAL replay on the replica makes "which server answered"
 * visible: a write then shows on the primary only.
 */
describe('Read replicas (SPEC section 12)', () => {
  const clock = new TestClock();
  let pair: PgPair;
  let t: TestApp;
  let admin: Session;
  let files: string;

  beforeAll(async () => {
    pair = await startPgPair({ primary: await freePort(), replica: await freePort() });
    const dataSource = new DataSource(databaseOptions({ url: pair.primaryUrl, poolSize: 2 }));
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    await seedDatabase(dataSource, ADMIN);
    await dataSource.destroy();
    await pair.caughtUp();
    // Storage and signing key of its own: its database is its own (export bundles, audio).
    files = await mkdtemp(join(tmpdir(), 'verbatim-replicas-'));
    t = await startApp(
      {
        DATABASE_URL: pair.primaryUrl,
        DATABASE_REPLICA_URLS: pair.replicaUrl,
        REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-replicas`,
        STORAGE_LOCAL_ROOT: join(files, 'storage'),
        KEYS_DIR: join(files, 'keys'),
      },
      { clock },
    );
    admin = await loginAsAdmin(t.http);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await pair?.stop();
    if (files) await rm(files, { recursive: true, force: true });
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

  /** GET under /api/v1 as the admin; a 200 is required (a 5xx fails the test). */
  async function read<T>(path: string): Promise<T> {
    const response = await t.http.get(`/api/v1${path}`).set(admin.auth);
    expect({ path, status: response.status }).toEqual({ path, status: 200 });
    return response.body as T;
  }

  /** Runs `sql` on the replica itself (the spec's own connection, not the app's). */
  async function onReplica<T>(sql: string): Promise<T[]> {
    const client = new Client({ connectionString: pair.replicaUrl });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }

  async function addNote(caseId: string, body: string): Promise<void> {
    await t.http.post(`/api/v1/cases/${caseId}/notes`).set(admin.auth).send({ body }).expect(201);
  }

  async function requestExport(caseId: string): Promise<{ id: string; jobId: string }> {
    const response = await t.http.post(`/api/v1/cases/${caseId}/export`).set(admin.auth);
    expect(response.status).toBe(202);
    return response.body as { id: string; jobId: string };
  }

  /** Waits for the export's job, then downloads the bundle and returns its entries. */
  async function builtBundle(exported: {
    id: string;
    jobId: string;
  }): Promise<Map<string, string>> {
    const job = await waitForJob(t.http, admin.auth, exported.jobId);
    expect(job).toMatchObject({ state: 'completed', result: { exportId: exported.id } });
    const response = await t.http
      .get(`/api/v1/exports/${exported.id}`)
      .set(admin.auth)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
    expect(response.status).toBe(200);
    const entries = await tarEntries(response.body as Buffer);
    return new Map(entries.map(([name, bytes]) => [name, bytes.toString('utf8')]));
  }

  const exportStatus = async (id: string) =>
    (
      await t.http
        .get(`/api/v1/exports/${id}`)
        .set(admin.auth)
        .set('Accept', 'application/json')
        .expect(200)
    ).body as { status: string };

  type Usage = { month: string; transcriptions: number };
  type Listed = { data: { id: string }[] };
  type Counted = { data: { id: string }[]; meta: { total: number } };
  type System = { rows: { cases: number } };

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

  it('the audit list, usage, system stats, version lists and notifications read from the replica', async () => {
    const { caseId, audioId } = await caseWithAudio(t, admin.auth);
    const first = await postTranscription(t.http, admin.auth, audioId, {
      segments: simpleSegments('First words.'),
    }).expect(201);
    const transcriptionId = (first.body as { id: string }).id;
    await pair.caughtUp();
    const usage = await read<Usage>('/me/usage');
    const system = await read<System>('/stats/system');
    await pair.pauseReplay();
    let laterCase: string;
    let notificationId: string;
    try {
      // Writes on the primary: a case (and its audit entry), a version (and the usage it
      // counts), an analysis, a notification.
      laterCase = await createCase('Replica lag audit');
      await postTranscription(t.http, admin.auth, audioId, {
        segments: simpleSegments('Second words.'),
      }).expect(201);
      await t.http
        .post(`/api/v1/transcriptions/${transcriptionId}/analysis`)
        .set(admin.auth)
        .send({ engine: 'sentiment-v2', summary: 'Lag.', sentiment: 'neutral' })
        .expect(201);
      const inserted = await t.db.query<{ id: string }[]>(
        `INSERT INTO notifications (user_id, type, title, resource_type, resource_id, case_id, created_at)
         VALUES ($1, 'transcription.created', 'Replica lag', 'transcription', $2, $3, now())
         RETURNING id`,
        [admin.userId, transcriptionId, caseId],
      );
      notificationId = inserted[0]!.id;
      const [primary] = await t.db.query<{ cases: number; transcriptions: number }[]>(
        `SELECT (SELECT count(*)::int FROM cases) AS cases,
                (SELECT transcriptions FROM usage_statistics WHERE user_id = $1 AND month = $2)
                  AS transcriptions`,
        [admin.userId, `${usage.month}-01`],
      );
      expect(primary).toEqual({
        cases: system.rows.cases + 1,
        transcriptions: usage.transcriptions + 1,
      });

      // Each read shows the paused replica's state: none of those writes.
      expect((await read<Listed>(`/audit?resourceId=${laterCase}`)).data).toEqual([]);
      expect((await read<Listed>(`/cases/${laterCase}/activity`)).data).toEqual([]);
      expect((await read<Usage>('/me/usage')).transcriptions).toBe(usage.transcriptions);
      const month = `?month=${usage.month}`;
      expect(
        (await read<Usage>(`/stats/usage${month}&userId=${admin.userId}`)).transcriptions,
      ).toBe(usage.transcriptions);
      const everyone = await read<{ data: (Usage & { userId: string })[] }>(`/stats/usage${month}`);
      expect(everyone.data.find((row) => row.userId === admin.userId)?.transcriptions).toBe(
        usage.transcriptions,
      );
      expect((await read<System>('/stats/system')).rows.cases).toBe(system.rows.cases);
      expect((await read<Counted>(`/audio/${audioId}/transcriptions`)).meta.total).toBe(1);
      expect((await read<Counted>(`/transcriptions/${transcriptionId}/analysis`)).meta.total).toBe(
        0,
      );
      expect((await read<Listed>('/me/notifications')).data.map((n) => n.id)).not.toContain(
        notificationId,
      );
    } finally {
      await pair.resumeReplay();
    }
    await pair.caughtUp();
    // Replayed: the same reads show every write.
    expect((await read<Listed>(`/audit?resourceId=${laterCase}`)).data).not.toEqual([]);
    expect((await read<Listed>(`/cases/${laterCase}/activity`)).data).not.toEqual([]);
    expect((await read<Usage>('/me/usage')).transcriptions).toBe(usage.transcriptions + 1);
    expect(
      (await read<Usage>(`/stats/usage?month=${usage.month}&userId=${admin.userId}`))
        .transcriptions,
    ).toBe(usage.transcriptions + 1);
    expect((await read<System>('/stats/system')).rows.cases).toBe(system.rows.cases + 1);
    expect((await read<Counted>(`/audio/${audioId}/transcriptions`)).meta.total).toBe(2);
    expect((await read<Counted>(`/transcriptions/${transcriptionId}/analysis`)).meta.total).toBe(1);
    expect((await read<Listed>('/me/notifications')).data.map((n) => n.id)).toContain(
      notificationId,
    );
  });

  it('an export waits for the replica to replay its request, then reads the bundle there', async () => {
    const caseId = await createCase('Export through the replica');
    await pair.caughtUp();
    await pair.pauseReplay();
    let exported: { id: string; jobId: string };
    try {
      await addNote(caseId, 'Committed just before the export');
      exported = await requestExport(caseId);
      // The build holds a replica connection polling its replay position; it neither
      // reads the stale replica nor gives up on it while it may still catch up.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await exportStatus(exported.id)).status).toBe('running');
      const waiting = await onReplica<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE query LIKE '%pg_last_wal_replay_lsn() >=%' AND pid <> pg_backend_pid()`,
      );
      expect(waiting[0]!.n).toBeGreaterThan(0);
    } finally {
      await pair.resumeReplay();
    }
    const bundle = await builtBundle(exported);
    expect(bundle.get('notes.json')).toContain('Committed just before the export');
    expect(bundle.get('audit.jsonl')).toContain(exported.id);
    // Its last read (the case's audit entries) ran on the replica.
    const reads = await onReplica<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE datname = 'verbatim' AND pid <> pg_backend_pid()`,
    );
    expect(reads.map((row) => row.query).join('\n')).toContain(
      'WHERE a.case_id = $1 AND a.id > $2',
    );
  });

  it('an export whose replica stays behind is built from the primary, whole', async () => {
    const caseId = await createCase('Export past a stuck replica');
    await pair.caughtUp();
    await pair.pauseReplay();
    try {
      await addNote(caseId, 'Never replayed while the export is built');
      const started = Date.now();
      const exported = await requestExport(caseId);
      const bundle = await builtBundle(exported);
      expect(Date.now() - started).toBeGreaterThanOrEqual(REPLICA_CATCH_UP_MS);
      expect(bundle.get('notes.json')).toContain('Never replayed while the export is built');
      expect(bundle.get('audit.jsonl')).toContain(exported.id);
    } finally {
      await pair.resumeReplay();
    }
  });

  it('skips a stopped replica without a 5xx, and uses it again once it is back', async () => {
    const { caseId: audioCase, audioId } = await caseWithAudio(t, admin.auth);
    const transcription = await postTranscription(t.http, admin.auth, audioId, {
      segments: simpleSegments('Before the outage.'),
    }).expect(201);
    const transcriptionId = (transcription.body as { id: string }).id;
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
      // Each read moved to the replica, each after the back-off so that it tries the
      // stopped replica first: a 200 from the primary, never a 5xx.
      const month = new Date(clock.nowMs()).toISOString().slice(0, 7);
      for (const path of [
        `/audit?resourceId=${caseId}`,
        `/cases/${caseId}/activity`,
        '/me/usage',
        `/stats/usage?month=${month}`,
        `/stats/usage?month=${month}&userId=${admin.userId}`,
        '/stats/system',
        `/audio/${audioId}/transcriptions`,
        `/transcriptions/${transcriptionId}/analysis`,
        '/me/notifications',
      ]) {
        clock.advance(REPLICA_RETRY_AFTER_MS + 1);
        await read(path);
      }
      expect((await read<Listed>(`/audit?resourceId=${caseId}`)).data).not.toEqual([]);
      clock.advance(REPLICA_RETRY_AFTER_MS + 1);
      const bundle = await builtBundle(await requestExport(audioCase));
      expect(bundle.has('notes.json')).toBe(true);
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
