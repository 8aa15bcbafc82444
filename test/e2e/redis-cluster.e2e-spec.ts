import Redis from 'ioredis';
import {
  expectProblem,
  attemptLogin,
  createUser,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { createCase, uploadAudio, waitForJob, wavBuffer } from '../support/audio';
import { openEventStream, portOf } from '../support/conversation-http';
import { isolatedDatabase } from '../support/isolated-database';
import { RedisCluster, startRedisCluster } from '../support/redis-cluster';
import { createConversation, eventually, turn } from '../support/turns';

/**
 * Everything on a real Redis Cluster (SPEC section 12): three masters the spec starts
 * itself, REDIS_CLUSTER_NODES naming only one of them. Turn ingestion and persistence, live
 * streams, BullMQ jobs, rate limits (every request), login lockout and dead letters all
 * run, and the turn buffers spread over the masters instead of living in one slot.
 */
describe('Redis Cluster (SPEC section 12)', () => {
  let cluster: RedisCluster;
  let database: { url: string; drop: () => Promise<void> };
  let t: TestApp;
  let admin: Session;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    database = await isolatedDatabase('cluster');
    t = await startApp({
      DATABASE_URL: database.url,
      // One node is enough: the client discovers the others and the slot map.
      REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.ports[1]}`,
      REDIS_URL: `redis://127.0.0.1:${cluster.ports[1]}`,
      REDIS_PREFIX: 'vbt-cluster',
    });
    admin = await loginAsAdmin(t.http);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await database?.drop();
    await cluster?.stop();
  });

  async function keysPerMaster(): Promise<number[]> {
    return Promise.all(
      cluster.ports.map(async (port) => {
        const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
        await node.connect();
        try {
          return await node.dbsize();
        } finally {
          node.disconnect();
        }
      }),
    );
  }

  const turnsCount = async (id: string) =>
    (
      (await t.http.get(`/api/v1/conversations/${id}`).set(admin.auth).expect(200)).body as {
        turnsCount: number;
      }
    ).turnsCount;

  it('is ready, with every Redis use answering', async () => {
    await t.http.get('/health/ready').expect(200);
  });

  it('ingests and persists turns of many conversations, spread over the masters', async () => {
    const conversations = await Promise.all(
      Array.from({ length: 12 }, () => createConversation(t.http, admin)),
    );
    await Promise.all(
      conversations.map((c) =>
        t.http
          .post(`/api/v1/conversations/${c.id}/turns`)
          .set(admin.auth)
          .send({ turns: [1, 2, 3, 4, 5].map((n) => turn(n)) })
          .expect(202),
      ),
    );
    // Duplicates are still detected on the cluster.
    const again = await t.http
      .post(`/api/v1/conversations/${conversations[0]!.id}/turns`)
      .set(admin.auth)
      .send({ turns: [turn(5)] })
      .expect(202);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
    for (const c of conversations) {
      expect(
        await eventually(
          () => turnsCount(c.id),
          (n) => n === 5,
          30_000,
        ),
      ).toBe(5);
    }
    const perMaster = await keysPerMaster();
    expect(perMaster.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('streams live turns (SSE) from the cluster', async () => {
    const conversation = await createConversation(t.http, admin);
    const stream = await openEventStream(
      portOf(t),
      `/api/v1/conversations/${conversation.id}/stream`,
      { authorization: admin.auth.Authorization },
    );
    try {
      expect(stream.status).toBe(200);
      await t.http
        .post(`/api/v1/conversations/${conversation.id}/turns`)
        .set(admin.auth)
        .send({ turns: [turn(1), turn(2)] })
        .expect(202);
      const events = await stream.waitFor(2);
      expect(
        events.map((e) => (JSON.parse(e.data) as { messageNumber: number }).messageNumber),
      ).toEqual([1, 2]);
    } finally {
      stream.close();
    }
  });

  it('runs BullMQ jobs on the cluster', async () => {
    const caseId = await createCase(t.http, admin.auth, 'Cluster case');
    const upload = await uploadAudio(t, admin.auth, caseId, { content: wavBuffer(1) });
    expect(upload.status).toBe(201);
    const verify = await t.http
      .post(`/api/v1/audio/${upload.body.id as string}/verify`)
      .set(admin.auth)
      .expect(202);
    const job = await waitForJob(t.http, admin.auth, (verify.body as { jobId: string }).jobId);
    expect(job.state).toBe('completed');
  });

  /** Every rate-limit count the masters hold, summed (keys spread over the slots). */
  async function rateCountsInCluster(): Promise<number> {
    const totals = await Promise.all(
      cluster.ports.map(async (port) => {
        const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
        await node.connect();
        try {
          const keys = await node.keys('vbt-cluster:rate:*');
          const values = keys.length > 0 ? await Promise.all(keys.map((k) => node.get(k))) : [];
          return values.reduce((sum, value) => sum + Number(value ?? 0), 0);
        } finally {
          node.disconnect();
        }
      }),
    );
    return totals.reduce((sum, n) => sum + n, 0);
  }

  it('adds every request to the shared rate-limit counts on the masters', async () => {
    const before = await rateCountsInCluster();
    const session = await userSession(t.http, admin, 'case_worker');
    const requests = 12;
    for (let i = 0; i < requests; i++) {
      await t.http.get('/api/v1/auth/me').set(session.auth).expect(200);
    }
    // Counts are synced every few milliseconds, not per request.
    const after = await eventually(
      rateCountsInCluster,
      (total) => total >= before + requests,
      5000,
    );
    expect(after - before).toBeGreaterThanOrEqual(requests);
  });

  it('locks an account after LOGIN_MAX_FAILURES failures, as on one server', async () => {
    const user = await createUser(t.http, admin, 'case_worker');
    for (let i = 0; i < 5; i++) {
      expectProblem(await attemptLogin(t.http, user.username, 'wrong-password'), 401);
    }
    expectProblem(await attemptLogin(t.http, user.username, user.password), 429);
  });

  it('keeps refused turns per shard, lists them in one order across shards, and replays them', async () => {
    await t.db.query(`
      CREATE FUNCTION cluster_refuse_turn() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.raw_text = 'refuse-on-cluster' THEN
          RAISE EXCEPTION 'refused %', NEW.message_number USING ERRCODE = '23514';
        END IF;
        RETURN NEW;
      END $$`);
    await t.db.query(
      `CREATE TRIGGER cluster_refuse_turn AFTER INSERT ON turns
         FOR EACH ROW EXECUTE FUNCTION cluster_refuse_turn()`,
    );
    const conversations = await Promise.all(
      Array.from({ length: 6 }, () => createConversation(t.http, admin)),
    );
    let listed: { id: string; conversationId: string }[] = [];
    try {
      for (const c of conversations) {
        await t.http
          .post(`/api/v1/conversations/${c.id}/turns`)
          .set(admin.auth)
          .send({ turns: [turn(1, { rawText: 'refuse-on-cluster' })] })
          .expect(202);
      }
      const list = async (query = '') =>
        (await t.http.get(`/api/v1/admin/dead-letters/turns${query}`).set(admin.auth).expect(200))
          .body as {
          data: { id: string; conversationId: string }[];
          total: number;
          nextCursor: string | null;
        };
      await eventually(list, (page) => page.total === 6, 30_000);
      // One page at a time through the merged order: each exactly once.
      let cursor: string | null = null;
      do {
        const page = await list(`?limit=1${cursor ? `&after=${cursor}` : ''}`);
        listed.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor !== null && listed.length < 10);
      listed = listed.filter((l) => conversations.some((c) => c.id === l.conversationId));
      expect(new Set(listed.map((l) => l.conversationId)).size).toBe(6);
      expect(listed.every((l) => /^\d+\.\d+-\d+$/.test(l.id))).toBe(true);
    } finally {
      await t.db.query('DROP TRIGGER cluster_refuse_turn ON turns');
      await t.db.query('DROP FUNCTION cluster_refuse_turn()');
    }
    const replay = await t.http
      .post('/api/v1/admin/dead-letters/turns/replay')
      .set(admin.auth)
      .send({ ids: listed.map((l) => l.id) })
      .expect(200);
    expect(replay.body).toEqual({ replayed: listed.map((l) => l.id), remaining: 0 });
    for (const c of conversations) {
      expect(
        await eventually(
          () => turnsCount(c.id),
          (n) => n === 1,
          30_000,
        ),
      ).toBe(1);
    }
  });
});
