/**
 * P3 and P6 of TARGETS.md — HTTP overhead of the hot API paths against a bare framework
 * route on the same adapter (NestJS + FastifyAdapter, a constant answer), side by side in
 * the same run, each round alternating app and bare.
 *
 *   npm run bench:api
 *   BENCH_RUNS=3 BENCH_P3_SECONDS=15 BENCH_P6_SECONDS=10 BENCH_WORKERS=separate npm run bench:api
 *
 * P3: single-turn POST /conversations/:id/turns at a fixed 1,000 req/s, open loop (each
 *     request sent at its due time, its latency counted from then: bench/support/paced.ts)
 *     vs a bare POST route taking the same JSON body: p99 and the overhead ratio.
 *     autocannon's overallRate, used before, sends each second's share in bursts of 16
 *     concurrent requests, which alone put the bare route's p99 at 18-56 ms.
 * P6: authenticated GET /cases/:id (a case_worker who leads the case, Bearer token) at 50
 *     connections vs the bare GET route: req/s, p99 and the ratio of req/s. The raw
 *     Fastify route registered on the app's own instance is shown too (the cost of the
 *     app's global hooks without Nest's pipeline).
 *
 * Creates and drops its own database and Redis prefix; the app runs in child processes
 * (API + worker process, or in-process workers with BENCH_WORKERS=inprocess).
 */
import 'reflect-metadata';
import {
  api,
  BENCH_ADMIN,
  benchEnvironment,
  createBenchDatabase,
  destroyBenchRun,
  fmt,
  load,
  login,
  markdownTable,
  Measured,
  measured,
  median,
  percentile,
  planBenchRun,
  reportSummary,
  Server,
  cpuSeconds,
  startApp,
  startBareApp,
  startWorker,
  SummaryRow,
  writeSection,
} from './support/harness';
import { HttpClient, paced } from './support/paced';
import { turnBody } from './support/turns';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const P3_RATE = 1_000;
const P3_SECONDS = Number(process.env.BENCH_P3_SECONDS ?? 15);
/** Most sockets the P3 pacer opens (it opens one per request in flight, up to this). */
const P3_CONNECTIONS = 16;
const P6_SECONDS = Number(process.env.BENCH_P6_SECONDS ?? 10);
const P6_CONNECTIONS = 50;
const MODE = (process.env.BENCH_WORKERS ?? 'separate').split(',')[0] as 'separate' | 'inprocess';

const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);
const ms = (value: number): string => `${value.toFixed(2)} ms`;

/**
 * P3's load on one server: a single-turn POST due every 1/P3_RATE s, open loop, for
 * P3_SECONDS; latency from each request's due time; CPU of the server process per answer.
 */
async function pacedPosts(
  server: Server,
  token: string,
  path: string,
  body: (i: number) => string,
): Promise<Measured> {
  const client = new HttpClient(server.url, token, P3_CONNECTIONS);
  const before = cpuSeconds(server.child.pid);
  try {
    const result = await paced(client, P3_RATE, P3_SECONDS, 202, (i) => ({
      method: 'POST',
      path,
      body: body(i),
    }));
    const cpu = cpuSeconds(server.child.pid) - before;
    const { latencies } = result;
    return {
      requests: result.ok,
      non2xx: result.sent - result.ok - (result.statuses.error ?? 0),
      errors: result.statuses.error ?? 0,
      seconds: result.seconds,
      requestsPerSecond: result.achievedRate,
      latency: {
        p50: percentile(latencies, 50),
        p90: percentile(latencies, 90),
        p99: percentile(latencies, 99),
        max: Math.max(...latencies),
        mean: latencies.reduce((sum, l) => sum + l, 0) / Math.max(1, latencies.length),
      },
      cpuMsPerRequest: (cpu * 1000) / Math.max(1, result.ok),
    };
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const run = planBenchRun('api');
  log(`database ${run.databaseName}, Redis prefix ${run.redisPrefix}, load ${load()}`);
  await createBenchDatabase(run);
  const env = benchEnvironment(run, { WORKERS_ENABLED: MODE === 'inprocess' ? 'true' : 'false' });
  const servers: Server[] = [];
  const loads: string[] = [load()];
  let failed = false;
  try {
    const app = await startApp(env);
    servers.push(app);
    if (MODE === 'separate') servers.push(await startWorker(env));
    const bare = await startBareApp();
    servers.push(bare);

    const adminToken = await login(app.url, BENCH_ADMIN.username, BENCH_ADMIN.password);
    const worker = {
      username: `bench-worker-${run.id}`,
      email: `bench-worker-${run.id}@verbatim.local`,
      fullName: 'Bench Case Worker',
      password: 'bench-worker-password-1',
      role: 'case_worker',
    };
    await api(app.url, 'POST', '/users', worker, adminToken);
    const workerToken = await login(app.url, worker.username, worker.password);
    const created = await api<{ id: string }>(
      app.url,
      'POST',
      '/cases',
      { title: 'Benchmark case', description: 'GET /cases/:id under load' },
      workerToken,
    );
    const caseId = created.id;

    const p3App: Measured[] = [];
    const p3Bare: Measured[] = [];
    const p6App: Measured[] = [];
    const p6Bare: Measured[] = [];
    const p6Raw: Measured[] = [];
    const turnJson = (n: number): string => JSON.stringify(turnBody(n, Date.now()));

    for (let round = 1; round <= RUNS; round++) {
      loads.push(load());
      // P3: a fresh conversation per round, one new messageNumber per request.
      const conversation = await api<{ id: string }>(
        app.url,
        'POST',
        '/conversations',
        { name: `bench-p3-${run.id}-${round}` },
        workerToken,
      );
      const appResult = await pacedPosts(
        app,
        workerToken,
        `/api/v1/conversations/${conversation.id}/turns`,
        (i) => turnJson(i + 1),
      );
      const bareResult = await pacedPosts(bare, workerToken, '/ping', (i) => turnJson(i + 1));
      for (const [name, result] of [
        ['app', appResult],
        ['bare', bareResult],
      ] as const) {
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`P3 ${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      }
      p3App.push(appResult);
      p3Bare.push(bareResult);
      log(
        `P3 round ${round}: app ${fmt(appResult.requestsPerSecond)} req/s p50 ${ms(appResult.latency.p50)} ` +
          `p99 ${ms(appResult.latency.p99)}; bare ${fmt(bareResult.requestsPerSecond)} req/s p50 ` +
          `${ms(bareResult.latency.p50)} p99 ${ms(bareResult.latency.p99)} (load ${load()})`,
      );

      // P6: as many requests as 50 connections get answered.
      const caseResult = await measured(app, {
        url: `${app.url}/api/v1/cases/${caseId}`,
        connections: P6_CONNECTIONS,
        duration: P6_SECONDS,
        headers: { authorization: `Bearer ${workerToken}` },
      });
      const bareGet = await measured(bare, {
        url: `${bare.url}/ping`,
        connections: P6_CONNECTIONS,
        duration: P6_SECONDS,
      });
      const rawGet = await measured(app, {
        url: `${app.url}/bench-raw`,
        connections: P6_CONNECTIONS,
        duration: P6_SECONDS,
      });
      for (const [name, result] of [
        ['case', caseResult],
        ['bare', bareGet],
        ['raw', rawGet],
      ] as const) {
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`P6 ${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      }
      p6App.push(caseResult);
      p6Bare.push(bareGet);
      p6Raw.push(rawGet);
      log(
        `P6 round ${round}: GET /cases/:id ${fmt(caseResult.requestsPerSecond)} req/s p99 ` +
          `${ms(caseResult.latency.p99)}; bare ${fmt(bareGet.requestsPerSecond)} req/s p99 ` +
          `${ms(bareGet.latency.p99)}; raw route in app ${fmt(rawGet.requestsPerSecond)} req/s (load ${load()})`,
      );
    }

    const med = (results: Measured[], pick: (r: Measured) => number): number =>
      median(results.map(pick));
    const p3AppP99 = med(p3App, (r) => r.latency.p99);
    const p3BareP99 = med(p3Bare, (r) => r.latency.p99);
    const p3Pass = p3AppP99 < 10;
    const p6Rps = med(p6App, (r) => r.requestsPerSecond);
    const p6BareRps = med(p6Bare, (r) => r.requestsPerSecond);
    const p6P99 = med(p6App, (r) => r.latency.p99);
    const p6Ratio = p6Rps / p6BareRps;
    const p6Pass = p6Ratio >= 0.4 && p6P99 < 15;
    failed = !p3Pass || !p6Pass;
    const appCpu = med(p3App, (r) => r.cpuMsPerRequest);
    const bareCpu = med(p3Bare, (r) => r.cpuMsPerRequest);
    const caseCpu = med(p6App, (r) => r.cpuMsPerRequest);
    const bareGetCpu = med(p6Bare, (r) => r.cpuMsPerRequest);

    const summary: SummaryRow[] = [
      {
        target: 'P3',
        workload: `single-turn POST at ${fmt(P3_RATE)} req/s`,
        goal: 'p99 < 10 ms',
        measured: `p99 ${ms(p3AppP99)} at ${fmt(med(p3App, (r) => r.requestsPerSecond))} req/s answered`,
        reference: `bare POST route p99 ${ms(p3BareP99)}`,
        ratio: `${(p3AppP99 / p3BareP99).toFixed(1)}× overhead`,
        pass: p3Pass,
      },
      {
        target: 'P6',
        workload: `authenticated GET /cases/:id, ${P6_CONNECTIONS} connections`,
        goal: '≥ 40 % of bare req/s, p99 < 15 ms',
        measured: `${fmt(p6Rps)} req/s, p99 ${ms(p6P99)}`,
        reference: `bare GET route ${fmt(p6BareRps)} req/s`,
        ratio: `${(p6Ratio * 100).toFixed(0)} %`,
        pass: p6Pass,
      },
    ];
    const row = (name: string, results: Measured[]): string[] => [
      name,
      results.map((r) => fmt(r.requestsPerSecond)).join(', '),
      fmt(med(results, (r) => r.requestsPerSecond)),
      ms(med(results, (r) => r.latency.p50)),
      ms(med(results, (r) => r.latency.p99)),
      ms(med(results, (r) => r.cpuMsPerRequest)),
    ];
    const header = [
      'route',
      'req/s per run',
      'req/s (median)',
      'p50 (median)',
      'p99 (median)',
      'server CPU per request',
    ];
    await writeSection(
      'API (P3, P6)',
      [
        `Command: \`npm run bench:api\` (BENCH_RUNS=${RUNS}, ${P3_SECONDS} s per P3 run, ${P6_SECONDS} s per P6 run,`,
        `BENCH_WORKERS=${MODE}). Run ${new Date().toISOString()}, Node ${process.version}, 2 cores, loopback.`,
        `App: createApp() in a child process (${MODE === 'separate' ? 'API + a worker process' : 'in-process workers'}, LOG_LEVEL ${process.env.BENCH_LOG_LEVEL ?? 'info'}`,
        'to /dev/null, rate limit raised); bare: a NestJS app on the same FastifyAdapter with constant',
        'routes, in its own child process started the same way; the load generators (P3: an open-loop',
        'pacer; P6: autocannon) in the bench process.',
        `Load average (1/5/15 min) at each round: ${loads.join('; ')}.`,
        '',
        `### P3 — single-turn POST at a fixed ${fmt(P3_RATE)} req/s (open loop, up to ${P3_CONNECTIONS} connections)`,
        '',
        markdownTable(header, [
          row('POST /api/v1/conversations/:id/turns (one turn, 202)', p3App),
          row('bare Nest POST /ping (same body, constant 202)', p3Bare),
        ]),
        '',
        `p99 ${ms(p3AppP99)} (target < 10 ms) vs bare ${ms(p3BareP99)}: overhead ${(p3AppP99 / p3BareP99).toFixed(1)}× → **${p3Pass ? 'PASS' : 'SHORT'}**.`,
        'Open loop (bench/support/paced.ts): request i is sent at start + i ms and its latency counts from',
        'then, so a slow answer or a busy load generator shows in the percentiles (no coordinated omission).',
        'When the app answers fewer than the offered 1,000 req/s, the requests queue and P3 is not met whatever the p99.',
        '"Server CPU per request" is user + system CPU of the server process (from /proc) divided by the',
        'requests answered: unlike latency it does not depend on what else the machine is running',
        '(for the app it excludes Postgres, Redis and the worker process).',
        '',
        `### P6 — authenticated GET /cases/:id at ${P6_CONNECTIONS} connections`,
        '',
        markdownTable(header, [
          row('GET /api/v1/cases/:id (case_worker, lead of the case, Bearer JWT)', p6App),
          row('bare Nest GET /ping (constant)', p6Bare),
          row('raw Fastify route on the app instance (helmet, request-id hooks; no Nest)', p6Raw),
        ]),
        '',
        `${fmt(p6Rps)} req/s = ${(p6Ratio * 100).toFixed(0)} % of the bare route (target ≥ 40 %), p99 ${ms(p6P99)} (target < 15 ms) → **${p6Pass ? 'PASS' : 'SHORT'}**.`,
        '',
        `CPU per request in the app process: single-turn POST ${ms(appCpu)} (bare POST ${ms(bareCpu)}, ${(appCpu / bareCpu).toFixed(0)}×),`,
        `GET /cases/:id ${ms(caseCpu)} (bare GET ${ms(bareGetCpu)}, ${(caseCpu / bareGetCpu).toFixed(0)}×). At that cost one core`,
        `answers at most ~${fmt(1000 / appCpu)} single-turn POSTs/s and ~${fmt(1000 / caseCpu)} GET /cases/:id per second,`,
        'before Postgres, Redis and the worker take their share of the two cores.',
      ].join('\n'),
    );
    await reportSummary(summary);
    console.log(
      markdownTable(
        ['target', 'measured', 'reference', 'ratio', 'verdict'],
        summary.map((s) => [s.target, s.measured, s.reference, s.ratio, s.pass ? 'PASS' : 'SHORT']),
      ),
    );
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await destroyBenchRun(run);
  }
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
