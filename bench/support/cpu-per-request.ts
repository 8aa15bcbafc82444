/**
 * Quick probe for work on the request path: the app's CPU milliseconds per request on the
 * hot routes (GET /cases/:id, single-turn POST, a raw Fastify route on the app instance),
 * at a moderate fixed load. CPU per request comes from /proc, so unlike latency it barely
 * depends on what else the machine runs; compare before/after numbers from this script.
 *
 *   npx ts-node -T bench/support/cpu-per-request.ts [seconds=6] [connections=8]
 */
import 'reflect-metadata';
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
  startApp,
  startWorker,
} from './harness';
import { turnBody } from './turns';

const SECONDS = Number(process.argv[2] ?? 6);
const CONNECTIONS = Number(process.argv[3] ?? 8);
/** Which probes to run (comma-separated: raw, get, post); all by default. */
const ONLY = new Set((process.argv[4] ?? 'raw,get,post').split(','));

async function cpuPerRequest(
  server: Server,
  options: Parameters<typeof cannon>[0],
): Promise<string> {
  const result = await measured(server, {
    connections: CONNECTIONS,
    duration: SECONDS,
    ...options,
  });
  if (result.non2xx > 0 || result.errors > 0) {
    const statuses = JSON.stringify((result as { statusCodeStats?: unknown }).statusCodeStats);
    throw new Error(
      `${options.url}: ${result.non2xx} non-2xx (${statuses}), ${result.errors} errors`,
    );
  }
  return `${result.cpuMsPerRequest.toFixed(3)} ms CPU/request, ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latency.p99} ms`;
}

async function main(): Promise<void> {
  const run = planBenchRun('cpu');
  await createBenchDatabase(run);
  const env = benchEnvironment(run, { WORKERS_ENABLED: 'false' });
  const servers: Server[] = [];
  try {
    const app = await startApp(env);
    servers.push(app);
    servers.push(await startWorker(env));
    const admin = await login(app.url, BENCH_ADMIN.username, BENCH_ADMIN.password);
    const worker = {
      username: `probe-${run.id}`,
      email: `probe-${run.id}@verbatim.local`,
      fullName: 'Probe Worker',
      password: 'probe-worker-password-1',
      role: 'case_worker',
    };
    await api(app.url, 'POST', '/users', worker, admin);
    const token = await login(app.url, worker.username, worker.password);
    const created = await api<{ id: string }>(app.url, 'POST', '/cases', { title: 'Probe' }, token);
    const conversation = await api<{ id: string }>(
      app.url,
      'POST',
      '/conversations',
      { name: `probe-${run.id}` },
      token,
    );
    const authorization = `Bearer ${token}`;
    // Warm-up: JIT, pools, caches.
    await cannon({
      url: `${app.url}/api/v1/cases/${created.id}`,
      duration: 2,
      headers: { authorization },
    });

    if (ONLY.has('raw')) {
      console.log('raw route     ', await cpuPerRequest(app, { url: `${app.url}/bench-raw` }));
    }
    if (ONLY.has('get')) {
      console.log(
        'GET /cases/:id',
        await cpuPerRequest(app, {
          url: `${app.url}/api/v1/cases/${created.id}`,
          headers: { authorization },
        }),
      );
    }
    let n = 0;
    if (ONLY.has('post'))
      console.log(
        'POST 1 turn   ',
        await cpuPerRequest(app, {
          url: app.url,
          headers: { 'content-type': 'application/json', authorization },
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                method: 'POST',
                path: `/api/v1/conversations/${conversation.id}/turns`,
                body: JSON.stringify(turnBody(++n, Date.now())),
              }),
            },
          ],
        }),
      );
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await destroyBenchRun(run);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
