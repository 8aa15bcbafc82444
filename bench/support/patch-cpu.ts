/**
 * Probe for the revision path: the API's CPU milliseconds per PATCH of a turn (SPEC
 * section 10), next to a single-turn POST, at a moderate fixed load and no other traffic.
 * CPU per request comes from /proc, so it barely depends on what else the machine runs.
 *
 *   npx ts-node -T bench/support/patch-cpu.ts [seconds=6] [connections=8] [persisted,fresh,post]
 *   BENCH_CPU_PROF=/tmp/prof npx ts-node -T bench/support/patch-cpu.ts   (then profile-summary.ts)
 *
 * PATCHes go round robin over 500 of 3,000 turns persisted before the measurement (each
 * revised every second or two, its previous revision often persisted already, as in P11's
 * preseeded half), with the body bench/cleaning.ts sends. A second probe PATCHes turns
 * POSTed moments before (still buffered in Redis, or just flushed): P11's other half.
 */
import 'reflect-metadata';
import type autocannon from 'autocannon';
import { Client } from 'pg';
import {
  api,
  BENCH_ADMIN,
  benchEnvironment,
  cannon,
  createBenchDatabase,
  destroyBenchRun,
  login,
  measured,
  planBenchRun,
  Server,
  sleep,
  startApp,
  startWorker,
} from './harness';
import { turnBody } from './turns';

const SECONDS = Number(process.argv[2] ?? 6);
const CONNECTIONS = Number(process.argv[3] ?? 8);
/** Which probes to run (comma-separated: persisted, fresh, post); all by default. */
const ONLY = new Set((process.argv[4] ?? 'persisted,fresh,post').split(','));
const PRESEEDED = 3_000;
/** The persisted probe revises the first this many, round robin: each every second or two. */
const REVISED = 500;

let sequence = 0;

function patchBody(): string {
  const id = `probe-${++sequence}`;
  return JSON.stringify({
    cleanedText: `the witness said that on the evening he was at home (${id})`,
    cleaningApplied: true,
    cleaningLevel: sequence % 2 ? 'light' : 'full',
    corrections: [
      {
        original: 'sed',
        corrected: 'said',
        confidence: 0.92,
        reason: 'transcription',
        position: { start: 12, end: 15 },
      },
    ],
    processingTimeMs: 40 + (sequence % 50),
    engineRequestId: id,
  });
}

function line(label: string, result: Awaited<ReturnType<typeof measured>>): string {
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${label}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return `${label} ${result.cpuMsPerRequest.toFixed(3)} ms CPU/request, ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latency.p99} ms`;
}

async function main(): Promise<void> {
  const run = planBenchRun('patchcpu');
  await createBenchDatabase(run);
  const env = benchEnvironment(run, { WORKERS_ENABLED: 'false' });
  const servers: Server[] = [];
  const pg = new Client({ connectionString: run.databaseUrl });
  await pg.connect();
  try {
    const app = await startApp(env);
    servers.push(app);
    servers.push(await startWorker(env));
    const token = await login(app.url, BENCH_ADMIN.username, BENCH_ADMIN.password);
    const authorization = `Bearer ${token}`;
    const headers = { 'content-type': 'application/json', authorization };
    const { id } = await api<{ id: string }>(
      app.url,
      'POST',
      '/conversations',
      { name: `patch-probe-${run.id}` },
      token,
    );
    const base = Date.now() - 3_600_000;
    for (let first = 1; first <= PRESEEDED; first += 100) {
      const turns = Array.from({ length: 100 }, (_, k) => turnBody(first + k, base + first + k));
      await api(app.url, 'POST', `/conversations/${id}/turns`, { turns }, token);
    }
    for (;;) {
      const { rows } = await pg.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM turns WHERE conversation_id = $1',
        [id],
      );
      if (rows[0]!.n >= PRESEEDED) break;
      await sleep(200);
    }
    let cursor = 0;
    const patchPersisted: autocannon.Options = {
      url: app.url,
      headers,
      requests: [
        {
          setupRequest: (request: autocannon.Request) => ({
            ...request,
            method: 'PATCH',
            path: `/api/v1/conversations/${id}/turns/${(cursor++ % REVISED) + 1}`,
            body: patchBody(),
          }),
        },
      ],
    };
    // Warm-up: JIT, pools, caches.
    await cannon({ ...patchPersisted, duration: 3, connections: CONNECTIONS });
    if (ONLY.has('persisted'))
      console.log(
        line(
          'PATCH persisted',
          await measured(app, { ...patchPersisted, duration: SECONDS, connections: CONNECTIONS }),
        ),
      );

    // Fresh turns: each connection POSTs one turn, then PATCHes it (CPU is per request of either).
    let next = PRESEEDED;
    if (ONLY.has('fresh'))
      console.log(
        line(
          'POST+PATCH fresh',
          await measured(app, {
            url: app.url,
            headers,
            duration: SECONDS,
            connections: CONNECTIONS,
            requests: [
              {
                setupRequest: (request: autocannon.Request, context: { n?: number }) => {
                  const n = ++next;
                  context.n = n;
                  return {
                    ...request,
                    method: 'POST',
                    path: `/api/v1/conversations/${id}/turns`,
                    body: JSON.stringify(turnBody(n, Date.now())),
                  };
                },
              },
              {
                setupRequest: (request: autocannon.Request, context: { n?: number }) => ({
                  ...request,
                  method: 'PATCH',
                  path: `/api/v1/conversations/${id}/turns/${context.n ?? 1}`,
                  body: patchBody(),
                }),
              },
            ],
          }),
        ),
      );

    const single = await api<{ id: string }>(
      app.url,
      'POST',
      '/conversations',
      { name: `post-probe-${run.id}` },
      token,
    );
    let n = 0;
    if (ONLY.has('post'))
      console.log(
        line(
          'POST 1 turn',
          await measured(app, {
            url: app.url,
            headers,
            duration: SECONDS,
            connections: CONNECTIONS,
            requests: [
              {
                setupRequest: (request: autocannon.Request) => ({
                  ...request,
                  method: 'POST',
                  path: `/api/v1/conversations/${single.id}/turns`,
                  body: JSON.stringify(turnBody(++n, Date.now())),
                }),
              },
            ],
          }),
        ),
      );
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await pg.end();
    await destroyBenchRun(run);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
