/**
 * P15 of TARGETS.md — scale-out: the P1 ingestion run (turns POSTed in batches of 100,
 * accepted/s and persisted/s end to end) on one node, and on the scale-out topology in
 * the same run: 2 API + 2 worker processes on a 3-master Redis Cluster and a Postgres
 * primary with a streaming replica, all on loopback. During the scale-out run one worker
 * is killed (SIGKILL) mid-run; the count afterwards proves no turn was lost or stored twice.
 *
 * Each topology first ingests an uncounted warm-up round (JIT, connection pools, the
 * cluster's slot map), then BENCH_RUNS measured rounds; the scale-out topology then runs
 * one more round in which a worker is killed.
 *
 *   npm run bench:scale
 *   BENCH_SCALE_TURNS=100000 BENCH_RUNS=3 npm run bench:scale
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '../src/core/database/database-options';
import { seedDatabase } from '../test/support/seed-fixture';
import { startPgPair, PgPair } from '../test/support/pg-replica';
import { freePort, RedisCluster, startRedisCluster } from '../test/support/redis-cluster';
import {
  api,
  BENCH_ADMIN,
  benchEnvironment,
  cannon,
  createBenchDatabase,
  destroyBenchRun,
  fmt,
  load,
  login,
  markdownTable,
  median,
  planBenchRun,
  Server,
  sleep,
  startApp,
  startWorker,
  writeSection,
} from './support/harness';

const TURNS = Number(process.env.BENCH_SCALE_TURNS ?? 60_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const WARMUP_TURNS = Number(process.env.BENCH_SCALE_WARMUP_TURNS ?? 20_000);
const BATCH = 100;
const CONNECTIONS = 16;
const CONVERSATIONS = 32;

interface Topology {
  name: string;
  apis: Server[];
  workers: Server[];
  primaryUrl: string;
  stop(): Promise<void>;
}

interface RunResult {
  acceptedPerSecond: number;
  persistedPerSecond: number;
  stored: number;
  workerKilled: boolean;
}

/** Environment shared by every process of a topology; the reclaim is short so a killed
 * worker's entries are taken over within the run. */
const common = { TURN_RECLAIM_IDLE_MS: '2000', WORKERS_ENABLED: 'false' };

async function singleNode(): Promise<Topology> {
  const run = planBenchRun('scale1');
  await createBenchDatabase(run);
  const env = benchEnvironment(run, common);
  const apis = [await startApp(env)];
  const workers = [await startWorker(env)];
  return {
    name: '1 API + 1 worker, one Redis, one Postgres',
    apis,
    workers,
    primaryUrl: run.databaseUrl,
    async stop() {
      await Promise.all([...apis, ...workers].map((s) => s.stop()));
      await destroyBenchRun(run);
    },
  };
}

async function scaleOut(): Promise<Topology> {
  const run = planBenchRun('scale2');
  const cluster: RedisCluster = await startRedisCluster(3);
  const pair: PgPair = await startPgPair({ primary: await freePort(), replica: await freePort() });
  const dataSource = new DataSource(databaseOptions({ url: pair.primaryUrl, poolSize: 2 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await seedDatabase(dataSource, BENCH_ADMIN);
  await dataSource.destroy();
  const env = benchEnvironment(run, {
    ...common,
    DATABASE_URL: pair.primaryUrl,
    DATABASE_REPLICA_URLS: pair.replicaUrl,
    REDIS_CLUSTER_NODES: cluster.nodes,
    REDIS_URL: `redis://${cluster.nodes.split(',')[0]}`,
    // Two worker processes of one lane each store two batches at once, as the single
    // node's one worker of two lanes does: the same number of statements in both
    // topologies (docker/scale-out.env sets the same). Two lanes each (four statements on
    // these two cores) measured 69 % of the single node against 80-88 % with one.
    TURN_PERSIST_LANES: '1',
  });
  const apis = [await startApp(env), await startApp(env)];
  const workers = [await startWorker(env), await startWorker(env)];
  return {
    name: '2 API + 2 workers, 3-master Redis Cluster, primary + streaming replica',
    apis,
    workers,
    primaryUrl: pair.primaryUrl,
    async stop() {
      await Promise.all([...apis, ...workers].map((s) => s.stop()));
      await cluster.stop();
      await pair.stop();
    },
  };
}

async function ingest(
  topology: Topology,
  turnCount: number,
  killWorker: boolean,
): Promise<RunResult> {
  const token = await login(topology.apis[0]!.url, BENCH_ADMIN.username, BENCH_ADMIN.password);
  const conversations: string[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const created = await api<{ id: string }>(
      topology.apis[i % topology.apis.length]!.url,
      'POST',
      '/conversations',
      { name: `scale-${process.pid}-${Date.now()}-${i}` },
      token,
    );
    conversations.push(created.id);
  }
  const posts = turnCount / BATCH;
  const spokenBase = Date.now() - 3_600_000;
  const bodies: string[] = [];
  const paths: string[] = [];
  for (let b = 0; b < posts; b++) {
    const first = Math.floor(b / CONVERSATIONS) * BATCH + 1;
    const turns = Array.from({ length: BATCH }, (_, k) => ({
      messageNumber: first + k,
      speaker: `Speaker_${k % 2}`,
      rawText: `scale-out turn ${first + k} with a sentence of ordinary length`,
      spokenAt: new Date(spokenBase + (first + k) * 100).toISOString(),
      confidence: 0.9,
    }));
    bodies.push(JSON.stringify({ turns }));
    paths.push(`/api/v1/conversations/${conversations[b % CONVERSATIONS]}/turns`);
  }
  const pg = new Client({ connectionString: topology.primaryUrl });
  await pg.connect();
  try {
    const started = performance.now();
    // The posts are split over the API processes, like a load balancer would.
    const share = Math.ceil(posts / topology.apis.length);
    let killed = false;
    const loads = topology.apis.map((server, index) => {
      let next = index * share;
      const end = Math.min(posts, next + share);
      return cannon({
        url: server.url,
        connections: CONNECTIONS / topology.apis.length,
        amount: end - next,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        requests: [
          {
            setupRequest: (request) => {
              const i = next++;
              if (killWorker && !killed && i - index * share > share / 2) {
                killed = true;
                topology.workers[1]!.child.kill('SIGKILL');
              }
              return { ...request, method: 'POST', path: paths[i]!, body: bodies[i]! };
            },
          },
        ],
      });
    });
    const results = await Promise.all(loads);
    const acceptSeconds = (performance.now() - started) / 1000;
    const failed = results.reduce((n, r) => n + r.non2xx + r.errors, 0);
    if (failed > 0) throw new Error(`${failed} requests failed`);
    const deadline = Date.now() + 300_000;
    let stored = 0;
    for (;;) {
      const { rows } = await pg.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM turns WHERE conversation_id = ANY($1)',
        [conversations],
      );
      stored = rows[0]!.n;
      if (stored >= turnCount || Date.now() > deadline) break;
      await sleep(50);
    }
    const persistSeconds = (performance.now() - started) / 1000;
    if (stored !== turnCount) throw new Error(`stored ${stored} turns of ${turnCount}`);
    return {
      acceptedPerSecond: turnCount / acceptSeconds,
      persistedPerSecond: turnCount / persistSeconds,
      stored,
      workerKilled: killed,
    };
  } finally {
    await pg.end();
  }
}

async function measure(
  make: () => Promise<Topology>,
  kill: boolean,
): Promise<{ name: string; runs: RunResult[]; killed?: RunResult }> {
  const topology = await make();
  const show = (round: string, result: RunResult) =>
    console.log(
      `[${topology.name}] ${round}: accepted ${fmt(result.acceptedPerSecond)}/s, ` +
        `persisted ${fmt(result.persistedPerSecond)}/s, stored ${result.stored}`,
    );
  try {
    if (WARMUP_TURNS > 0) show('warm-up', await ingest(topology, WARMUP_TURNS, false));
    const runs: RunResult[] = [];
    for (let round = 1; round <= RUNS; round++) {
      const result = await ingest(topology, TURNS, false);
      show(`round ${round}`, result);
      runs.push(result);
    }
    if (!kill) return { name: topology.name, runs };
    // Last, a worker is killed mid-run (a killed worker stays dead).
    const killed = await ingest(topology, TURNS, true);
    show('round with one worker killed mid-run', killed);
    return { name: topology.name, runs, killed };
  } finally {
    await topology.stop();
  }
}

async function main(): Promise<void> {
  const loadAtStart = load();
  console.log(`P15: ${TURNS} turns per round, ${RUNS} rounds per topology; load ${loadAtStart}`);
  const single = await measure(singleNode, false);
  const scaled = await measure(scaleOut, true);
  const persisted = (runs: RunResult[]) => median(runs.map((r) => r.persistedPerSecond));
  const accepted = (runs: RunResult[]) => median(runs.map((r) => r.acceptedPerSecond));
  const singleP = persisted(single.runs);
  const scaledP = persisted(scaled.runs);
  const killed = scaled.killed!;
  const table = markdownTable(
    [
      'topology',
      'accepted turns/s (median)',
      'persisted turns/s end to end (median)',
      'vs single node',
    ],
    [
      [single.name, fmt(accepted(single.runs)), fmt(singleP), '100 %'],
      [
        scaled.name,
        fmt(accepted(scaled.runs)),
        fmt(scaledP),
        `${fmt((scaledP / singleP) * 100)} %`,
      ],
      [
        'same, one worker SIGKILLed mid-run',
        fmt(killed.acceptedPerSecond),
        fmt(killed.persistedPerSecond),
        `stored ${killed.stored} of ${TURNS}: none lost, none twice`,
      ],
    ],
  );
  console.log(table);
  await writeSection(
    'P15 — scale-out (bench:scale)',
    `Command: \`npm run bench:scale\` (BENCH_SCALE_TURNS=${TURNS}, BENCH_RUNS=${RUNS}, ` +
      `BENCH_SCALE_WARMUP_TURNS=${WARMUP_TURNS}), ` +
      `load average at start ${loadAtStart}, ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
