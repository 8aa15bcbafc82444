/**
 * P9 — audit chain verification throughput (target ≥ 100,000 entries/s).
 *
 *   npm run bench:audit                 # 200,000 entries
 *   npm run bench:audit -- 1000000      # or BENCH_AUDIT_ENTRIES=1000000
 *
 * Creates a throwaway database on the local server (BENCH_DATABASE_URL, default
 * postgres://postgres:postgres@127.0.0.1:5432), migrates it with the app's own
 * migrations, bulk-inserts N correctly chained entries, then times the verification the
 * API does (AuditRepository.walk + ChainWalker, as in AuditService.verify) three times and
 * reports the median. The database is dropped afterwards. Exits 1 below the target.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  ChainedContent,
  chainHash,
  ChainVerdict,
  ChainWalker,
  GENESIS_HASH,
} from '../src/audit/audit-chain';
import { AuditRepository, ChainRow } from '../src/audit/audit.repository';
import { databaseOptions } from '../src/core/database/database-options';
import { ACTIVITY_TYPES } from '../src/seed/lookups';

const TARGET = 100_000;
const RUNS = 3;
const INSERT_BATCH = 1_000;
const COLUMNS = 14;

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
      );
      prevHash = hash;
    }
    await dataSource.query(
      `INSERT INTO audit_logs (id, occurred_at, actor_id, actor_ip, user_agent, action, resource_type,
                               resource_id, case_id, outcome, details, request_id, prev_hash, hash)
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
  let walker: ChainWalker | undefined;
  for await (const batch of repository.walk({})) {
    walker ??= new ChainWalker(await repository.hashBefore(batch[0]!.id));
    for (const entry of batch) {
      if (!walker.next(entry)) return walker.verdict;
    }
  }
  return walker?.verdict ?? { valid: true, checked: 0 };
}

/** Reading alone: the same walk without hashing, to show where the time goes. */
async function walkOnly(repository: AuditRepository): Promise<ChainRow[]> {
  const rows: ChainRow[] = [];
  for await (const batch of repository.walk({})) rows.push(...batch);
  return rows;
}

/** Hashing alone, over rows already in memory. */
function hashOnly(rows: ChainRow[]): ChainVerdict {
  const walker = new ChainWalker(GENESIS_HASH);
  for (const entry of rows) if (!walker.next(entry)) break;
  return walker.verdict;
}

async function timed<T>(work: () => Promise<T> | T): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - started) / 1000 };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

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
        `(${Math.round(entries / (insertMs / 1000)).toLocaleString('en')} entries/s, setup only)`,
    );

    const repository = new AuditRepository(dataSource);
    const rates: number[] = [];
    const readRates: number[] = [];
    const hashRates: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const { result: verdict, seconds } = await timed(() => verify(repository));
      if (!verdict.valid || verdict.checked !== entries) {
        throw new Error(`run ${run}: unexpected verdict ${JSON.stringify(verdict)}`);
      }
      rates.push(entries / seconds);
      // Side by side in the same run: the two halves of the work on their own.
      const read = await timed(() => walkOnly(repository));
      readRates.push(entries / read.seconds);
      const hashed = await timed(() => hashOnly(read.result));
      if (!hashed.result.valid) throw new Error('in-memory chain is not valid');
      hashRates.push(entries / hashed.seconds);
      console.log(
        `run ${run}: verified ${verdict.checked.toLocaleString('en')} entries in ${seconds.toFixed(2)} s ` +
          `= ${Math.round(entries / seconds).toLocaleString('en')} entries/s ` +
          `(read only ${Math.round(entries / read.seconds).toLocaleString('en')}/s, ` +
          `hash only ${Math.round(entries / hashed.seconds).toLocaleString('en')}/s)`,
      );
    }
    console.log(
      `medians: read only ${Math.round(median(readRates)).toLocaleString('en')} entries/s, ` +
        `hash only ${Math.round(median(hashRates)).toLocaleString('en')} entries/s`,
    );
    const result = Math.round(median(rates));
    passed = result >= TARGET;
    console.log(
      `P9 audit chain verification: median ${result.toLocaleString('en')} entries/s over ${RUNS} runs ` +
        `of ${entries.toLocaleString('en')} entries (target ≥ ${TARGET.toLocaleString('en')}) — ` +
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
