/**
 * P9 — audit chain verification throughput (target ≥ 100,000 entries/s).
 *
 *   npm run bench:audit                 # 200,000 entries, 5 runs
 *   npm run bench:audit -- 1000000      # or BENCH_AUDIT_ENTRIES=1000000; BENCH_RUNS=5
 *
 * Creates a throwaway database on the local server (BENCH_DATABASE_URL, default
 * postgres://postgres:postgres@127.0.0.1:5432), migrates it with the app's own
 * migrations, bulk-inserts N correctly chained entries, then, in each run and side by
 * side, times the verification the API does (AuditRepository.chainSpan + walk +
 * ChainWalker, as in AuditService.verify), the previous paged design as a reference, and
 * the two halves of the new one alone. Reports medians, CPU per entry of this process
 * and of the Postgres backends, and writes its section of BENCHMARKS.md. The database is
 * dropped afterwards. Exits 1 below the target.
 */
import 'reflect-metadata';
import { createHash, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  canonicalContent,
  ChainedContent,
  chainHash,
  ChainVerdict,
  ChainWalker,
  CURRENT_HASH_VERSION,
  GENESIS_HASH,
  StoredEntry,
} from '../src/audit/audit-chain';
import { AuditRepository, ChainRow } from '../src/audit/audit.repository';
import { databaseOptions } from '../src/core/database/database-options';
import { ACTIVITY_TYPES } from '../src/audit/activity-types';
import { cpuSeconds, markdownTable, reportSummary, writeSection } from './support/harness';

const TARGET = 100_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const INSERT_BATCH = 1_000;
const COLUMNS = 16;

const entries = Number(process.argv[2] ?? process.env.BENCH_AUDIT_ENTRIES ?? 200_000);
const serverUrl = new URL(
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
);
serverUrl.pathname = '/postgres';

/** Entries shaped like the real ones: a few actors, agents and kinds of details. */
function entryContent(id: number, actors: string[]): ChainedContent {
  const actions = Object.keys(ACTIVITY_TYPES);
  const action = actions[id % actions.length]!;
  const actorId = id % 17 === 0 ? null : actors[id % actors.length]!;
  return {
    id: String(id),
    seq: id,
    hashVersion: CURRENT_HASH_VERSION,
    occurredAt: new Date(Date.UTC(2026, 0, 1) + id * 37),
    actorId,
    actorIp: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
    userAgent: id % 3 === 0 ? 'verbatim-stt/2.4 (linux; x64)' : 'Mozilla/5.0 (X11; Linux x86_64)',
    action,
    resourceType: action.split('.')[0]!,
    resourceId: actorId ?? randomUUID(),
    caseId: id % 5 === 0 ? actors[(id * 7) % actors.length]! : null,
    outcome: id % 11 === 0 ? 'failure' : 'success',
    details:
      id % 4 === 0
        ? { name: `key-${id}`, fields: ['email', 'fullName'], passwordReset: false }
        : id % 4 === 1
          ? { reason: 'wrong-password' }
          : id % 4 === 2
            ? { name: `role_${id % 97}`, permissions: ['cases:read', 'audio:*'], parentRole: null }
            : {},
    requestId: randomUUID(),
  };
}

async function insertChain(dataSource: DataSource, count: number): Promise<number> {
  const actors = Array.from({ length: 50 }, () => randomUUID());
  const started = performance.now();
  let prevHash = GENESIS_HASH;
  for (let first = 1; first <= count; first += INSERT_BATCH) {
    const last = Math.min(count, first + INSERT_BATCH - 1);
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let id = first; id <= last; id++) {
      const content = entryContent(id, actors);
      const hash = chainHash(prevHash, content);
      const base = values.length;
      rows.push(`(${Array.from({ length: COLUMNS }, (_, i) => `$${base + i + 1}`).join(', ')})`);
      values.push(
        content.id,
        content.occurredAt,
        content.actorId,
        content.actorIp,
        content.userAgent,
        content.action,
        content.resourceType,
        content.resourceId,
        content.caseId,
        content.outcome,
        JSON.stringify(content.details),
        content.requestId,
        prevHash,
        hash,
        content.seq,
        content.hashVersion,
      );
      prevHash = hash;
    }
    await dataSource.query(
      `INSERT INTO audit_logs (id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                               resource_id, case_id, outcome, details, request_id, prev_hash, hash,
                               seq, hash_version)
       VALUES ${rows.join(', ')}`,
      values,
    );
  }
  await dataSource.query(`SELECT setval('audit_logs_id_seq', $1)`, [count]);
  await dataSource.query('VACUUM ANALYZE audit_logs');
  return performance.now() - started;
}

/** What AuditService.verify does for GET /audit/verify, without the Nest container. */
async function verify(repository: AuditRepository): Promise<ChainVerdict> {
  const span = await repository.chainSpan({});
  if (!span) return { valid: true, checked: 0 };
  const walker = new ChainWalker(span.start);
  await repository.walk(span, (entry) => walker.next(entry));
  return walker.verdict;
}

/**
 * The previous design, as a reference: pages of 10,000 rows fetched one ahead through
 * TypeORM's query(), parsed by pg into objects with Dates and parsed JSON, each hashed
 * with its own createHash.
 */
async function verifyPaged(dataSource: DataSource): Promise<ChainVerdict> {
  const fetch = (after: string): Promise<ChainRow[]> =>
    dataSource.query<ChainRow[]>(
      `SELECT a.id::text AS id, a.occurred_at AS "occurredAt", a.actor_id AS "actorId",
              a.actor_ip AS "actorIp", a.user_agent AS "userAgent", a.action,
              a.resource_type AS "resourceType", a.resource_id AS "resourceId",
              a.case_id AS "caseId", a.outcome, a.details, a.request_id AS "requestId",
              a.prev_hash AS "prevHash", a.hash, a.seq::float8 AS seq,
              a.hash_version AS "hashVersion"
         FROM audit_logs a WHERE a.id > $1 ORDER BY a.id LIMIT 10000`,
      [after],
    );
  let expectedPrev = GENESIS_HASH;
  let checked = 0;
  let pending = fetch('0');
  for (;;) {
    const batch = await pending;
    if (batch.length === 0) return { valid: true, checked };
    pending = fetch(batch[batch.length - 1]!.id);
    for (const entry of batch) {
      checked += 1;
      const hash = createHash('sha256')
        .update(`${entry.prevHash}\n${canonicalContent(entry)}`)
        .digest('hex');
      if (entry.prevHash !== expectedPrev || hash !== entry.hash) {
        await pending;
        return { valid: false, checked, firstBrokenId: entry.id };
      }
      expectedPrev = entry.hash;
    }
  }
}

/** Reading alone: the same walk, rows turned into canonical fields but not hashed. */
async function readOnly(repository: AuditRepository): Promise<ChainVerdict> {
  let checked = 0;
  await repository.walk((await repository.chainSpan({}))!, () => ++checked > 0);
  return { valid: true, checked };
}

/** The entries in memory, for hashing alone (collected once, untimed). */
async function collect(repository: AuditRepository): Promise<StoredEntry[]> {
  const entries: StoredEntry[] = [];
  await repository.walk((await repository.chainSpan({}))!, (entry) => entries.push(entry) > 0);
  return entries;
}

/** Hashing alone, over entries already in memory. */
function hashOnly(entries: StoredEntry[]): ChainVerdict {
  const walker = new ChainWalker();
  for (const entry of entries) if (!walker.next(entry)) break;
  return walker.verdict;
}

interface Sample {
  rate: number;
  /** CPU µs per entry of this process and of the database's backends. */
  nodeCpu: number;
  pgCpu: number;
}

/** Times `work` over `entries`, with the CPU this process and the backends spent on it. */
async function measure<T>(
  admin: Client,
  databaseName: string,
  work: () => Promise<T> | T,
): Promise<{ result: T; sample: Sample }> {
  const backends = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
        databaseName,
      ])
    ).rows.map((row) => row.pid);
  const before = new Map((await backends()).map((pid) => [pid, cpuSeconds(pid)]));
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  // Backends that ended meanwhile (a connection closed early) are not counted.
  const pgSeconds = (await backends())
    .filter((pid) => before.has(pid))
    .reduce((sum, pid) => sum + cpuSeconds(pid) - before.get(pid)!, 0);
  return {
    result,
    sample: {
      rate: entries / seconds,
      nodeCpu: (used.user + used.system) / entries,
      pgCpu: (pgSeconds * 1e6) / entries,
    },
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const nodeCpu = (list: Sample[]): number => median(list.map((s) => s.nodeCpu));
const perSecond = (value: number): string => Math.round(value).toLocaleString('en');
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

const VARIANTS = ['verify', 'paged', 'read', 'hash'] as const;
type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  verify: '**verification as the API does it** (one streamed query, array rows, `crypto.hash`)',
  paged: 'previous design: pages of 10,000 object rows (Dates, parsed JSON), `createHash`',
  read: 'reading alone (the same stream, rows to canonical fields, no hashing)',
  hash: 'hashing alone (canonical text + SHA-256 + links, entries in memory)',
};

function report(samples: Record<Variant, Sample[]>, insertSeconds: number): string {
  const rows = VARIANTS.map((variant) => {
    const list = samples[variant];
    const cpu = variant === 'hash' ? '—' : `${median(list.map((s) => s.pgCpu)).toFixed(2)}`;
    return [
      LABELS[variant],
      list.map((s) => perSecond(s.rate)).join(', '),
      `**${perSecond(median(list.map((s) => s.rate)))}**`,
      nodeCpu(list).toFixed(2),
      cpu,
    ];
  });
  const verify = median(samples.verify.map((s) => s.rate));
  const paged = median(samples.paged.map((s) => s.rate));
  return [
    `Command: \`npm run bench:audit\` — ${entries.toLocaleString('en')} chained entries (inserted in`,
    `${insertSeconds.toFixed(0)} s, setup only), ${RUNS} runs; in each run the four variants run one after the`,
    `other on the same data (the two designs alternate in going first). Run ${new Date().toISOString()}, Node ${process.version}, 2 cores, loopback;`,
    `load average at the end ${load()} (other work was running on the machine). CPU µs per entry are`,
    "user + system time of the bench process and of the database's Postgres backends.",
    '',
    markdownTable(
      ['variant', 'entries/s per run', 'median', 'Node CPU µs/entry', 'Postgres CPU µs/entry'],
      rows,
    ),
    '',
    `P9 (≥ ${perSecond(TARGET)} entries/s): **${verify >= TARGET ? 'pass' : 'short'}** at ${perSecond(verify)}`,
    `entries/s, ${(verify / paged).toFixed(2)}× the previous design in the same run; Node CPU per entry`,
    `${nodeCpu(samples.paged).toFixed(2)} → ${nodeCpu(samples.verify).toFixed(2)} µs (Postgres works on the other core meanwhile).`,
    'The machine was shared with other benchmarks (this process got well under one core), so the',
    "absolute rates are far below an idle machine's; the ratio and CPU per entry are comparable.",
    '',
    'Why it is faster: the walk is one query whose rows are verified as pg parses them, while',
    'Postgres sends the next ones (no pages held in memory: the previous design kept two',
    'pages of 10,000 rows alive, so every young-generation GC copied them: ~20 % of the CPU in',
    '`node --cpu-prof`); rows come as arrays of text (no Dates: the ISO text is rearranged from',
    "Postgres' UTC output, falling back to pg's parser for any other form; empty `details`",
    'are not parsed); and `crypto.hash` hashes without building a Hash object per entry. The hash',
    "is still computed in Node from the stored columns, exactly as before. Each entry's `seq`",
    '(gapless, hashed from hash version 2 on; issue 11 F8) is checked in the same walk.',
    '',
    'Tried and not adopted (side by side while profiling, same machine): pages of 500 to 5,000',
    'rows instead of a stream (no less CPU than 10,000); Postgres sending each row as one',
    '`json_build_array(...)` text, parsed with one JSON.parse (the same Node CPU, three times the',
    'Postgres CPU); hashing in a worker thread fed batches of canonical text (faster in wall time',
    'when a core is free, but ~3 µs more CPU per entry to copy the text, taken from Postgres and',
    'the API on a 2-core machine).',
  ].join('\n');
}

async function main(): Promise<void> {
  if (!Number.isInteger(entries) || entries < 1) throw new Error(`bad entry count: ${entries}`);
  const databaseName = `verbatim_bench_audit_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: serverUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${databaseName}"`);
  const url = new URL(serverUrl.toString());
  url.pathname = `/${databaseName}`;
  const dataSource = new DataSource(databaseOptions({ url: url.toString(), poolSize: 2 }));
  let passed = false;
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    for (const [code, description] of Object.entries(ACTIVITY_TYPES)) {
      await dataSource.query('INSERT INTO activity_types (code, description) VALUES ($1, $2)', [
        code,
        description,
      ]);
    }

    const insertMs = await insertChain(dataSource, entries);
    console.log(
      `inserted ${entries.toLocaleString('en')} chained entries in ${(insertMs / 1000).toFixed(1)} s ` +
        `(${perSecond(entries / (insertMs / 1000))} entries/s, setup only)`,
    );

    const repository = new AuditRepository(dataSource);
    const samples: Record<Variant, Sample[]> = { verify: [], paged: [], read: [], hash: [] };
    const expectValid = (variant: Variant, verdict: ChainVerdict): void => {
      if (!verdict.valid || verdict.checked !== entries) {
        throw new Error(`${variant}: unexpected verdict ${JSON.stringify(verdict)}`);
      }
    };
    const work: Record<Exclude<Variant, 'hash'>, () => Promise<ChainVerdict>> = {
      verify: () => verify(repository),
      paged: () => verifyPaged(dataSource),
      read: () => readOnly(repository),
    };
    for (let run = 1; run <= RUNS; run++) {
      const designs =
        run % 2 === 1 ? (['verify', 'paged'] as const) : (['paged', 'verify'] as const);
      for (const variant of [...designs, 'read'] as const) {
        const { result, sample } = await measure(admin, databaseName, work[variant]);
        expectValid(variant, result);
        samples[variant].push(sample);
      }
      // Collected untimed and dropped after: 200,000 live entries would slow the garbage
      // collection of every other variant.
      const entriesInMemory = await collect(repository);
      const hashed = await measure(admin, databaseName, () => hashOnly(entriesInMemory));
      expectValid('hash', hashed.result);
      samples.hash.push(hashed.sample);
      console.log(
        `run ${run}: ` +
          VARIANTS.map((v) => `${v} ${perSecond(samples[v][run - 1]!.rate)}/s`).join(', '),
      );
    }
    const result = median(samples.verify.map((s) => s.rate));
    passed = result >= TARGET;
    const markdown = report(samples, insertMs / 1000);
    console.log(`\n${markdown}\n`);
    await writeSection('Audit chain verification (P9)', markdown);
    await reportSummary([
      {
        target: 'P9',
        workload: `verify a chain of ${entries.toLocaleString('en')} audit entries`,
        goal: `≥ ${perSecond(TARGET)} entries/s`,
        measured: `${perSecond(result)} entries/s`,
        reference: `previous paged design ${perSecond(median(samples.paged.map((s) => s.rate)))} entries/s`,
        ratio: `${(result / median(samples.paged.map((s) => s.rate))).toFixed(2)}×`,
        pass: passed,
      },
    ]);
    console.log(
      `P9 audit chain verification: median ${perSecond(result)} entries/s over ${RUNS} runs ` +
        `of ${entries.toLocaleString('en')} entries (target ≥ ${perSecond(TARGET)}) — ` +
        (passed ? 'PASS' : 'FAIL'),
    );
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await admin.end();
  }
  if (!passed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
