import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { CaseListFilter, CasesRepository, EXACT_COUNT_LIMIT } from '../src/cases/cases.repository';
import { BITMAP_ONLY } from '../src/search/planner';
import { percentile, throwawayDatabase, writeBenchmarkSection } from './bench-db';
import { SystemClock } from '../src/core/clock/clock';
import { ReplicaReads } from '../src/core/database/replica-reads';

/**
 * Issue 3 / TARGETS P5 (cases part): the case list and its full-text search over 100k
 * cases with 100k notes. Runs the repository's exact SQL, reports p50/p95 over repeated
 * executions and checks with EXPLAIN that the indexes are used and `cases` is never
 * scanned sequentially.  Run: npm run bench:cases
 */
const CASES = Number(process.env.BENCH_CASES ?? 100_000);
const NOTES = Number(process.env.BENCH_NOTES ?? 100_000);
const USERS = 200;
const RUNS = 60;
/**
 * Text is drawn from a Zipf-like vocabulary (P(word n) ∝ 1/n over 20,000 words, the
 * 100 most frequent dropped as stop words would be), so a "common" word appears in a few
 * percent of cases, as in real text. One extra word, "everywhere", is put in half of the
 * descriptions to show the worst case honestly: ranking cost grows with the matches.
 */
const WORD = `('w' || floor(exp(ln(100) + random() * (ln(20000) - ln(100))))::int)`;

async function main(): Promise<void> {
  const started = Date.now();
  const db = await throwawayDatabase('cases');
  const { dataSource } = db;
  try {
    // `salt` correlates the subquery with the row, so each row draws its own words. (The
    // notes used the constant of a LATERAL subquery, which the planner folds: every note
    // had the same 12 words, so whichever common word they held matched every case.)
    const phrase = (n: number, salt = 'g') =>
      `(SELECT string_agg(${WORD}, ' ') FROM generate_series(1, ${n}) WHERE ${salt} IS NOT NULL)`;
    await dataSource.query(
      `INSERT INTO users (username, email, full_name, password_hash, role)
       SELECT 'bench' || g, 'bench' || g || '@bench.local', 'Bench ' || g, 'x', 'case_worker' FROM generate_series(1, ${USERS}) g`,
    );
    const [creator] = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM users WHERE username = 'admin'`,
    );
    await dataSource.query(
      `INSERT INTO cases (case_code, title, description, status, priority, created_by, created_at)
       SELECT 'CASE-B-' || lpad(g::text, 7, '0'), ${phrase(5)}, ${phrase(30)} || CASE WHEN g % 2 = 0 THEN ' everywhere' ELSE '' END,
              (ARRAY['active','pending','closed'])[1 + g % 3], (ARRAY['high','medium','low'])[1 + g % 3], $1,
              now() - (g || ' minutes')::interval
         FROM generate_series(1, ${CASES}) g`,
      [creator!.id],
    );
    await dataSource.query(
      `INSERT INTO case_participants (case_id, user_id, role)
       SELECT c.id, u.id, 'lead' FROM (SELECT id, row_number() OVER () AS n FROM cases) c
         JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users WHERE username LIKE 'bench%') u ON u.n = c.n % ${USERS}`,
    );
    await dataSource.query(
      `INSERT INTO case_notes (case_id, author_id, body)
       SELECT c.id, $1, ${phrase(12, 'c.id')} FROM (SELECT id FROM cases ORDER BY random() LIMIT ${NOTES}) c`,
      [creator!.id],
    );
    await dataSource.query('VACUUM ANALYZE');
    const seededSeconds = (Date.now() - started) / 1000;

    const [worker] = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM users WHERE username = 'bench1'`,
    );
    const repository = new CasesRepository(
      dataSource,
      new ReplicaReads(dataSource, new SystemClock()),
    );
    const base: CaseListFilter = {
      actorId: worker!.id,
      seesAll: false,
      sort: { field: 'createdAt', descending: true },
      offset: 0,
      limit: 20,
    };
    const scenarios: { name: string; filter: CaseListFilter }[] = [
      { name: 'supervisor: list, newest first', filter: { ...base, seesAll: true } },
      {
        name: 'supervisor: q=most common word (~4 % of cases), by rank',
        filter: { ...base, seesAll: true, q: 'w100', sort: { field: 'rank', descending: true } },
      },
      {
        name: 'supervisor: q=mid-frequency word, by rank',
        filter: { ...base, seesAll: true, q: 'w400', sort: { field: 'rank', descending: true } },
      },
      {
        name: 'supervisor: q=rare word, by rank',
        filter: { ...base, seesAll: true, q: 'w9000', sort: { field: 'rank', descending: true } },
      },
      {
        name: 'supervisor: q=two words (AND), by rank',
        filter: {
          ...base,
          seesAll: true,
          q: 'w100 w101',
          sort: { field: 'rank', descending: true },
        },
      },
      {
        name: 'supervisor: q=word in 50 % of cases (worst case), by rank',
        filter: {
          ...base,
          seesAll: true,
          q: 'everywhere',
          sort: { field: 'rank', descending: true },
        },
      },
      {
        name: 'supervisor: q=word in 50 % of cases, page 20 (past the ranked candidates)',
        filter: {
          ...base,
          seesAll: true,
          q: 'everywhere',
          sort: { field: 'rank', descending: true },
          offset: 380,
        },
      },
      {
        name: 'supervisor: status + priority sort',
        filter: {
          ...base,
          seesAll: true,
          status: 'active',
          sort: { field: 'priority', descending: true },
        },
      },
      { name: 'case worker: list, newest first', filter: base },
      {
        name: 'case worker: q=most common word',
        filter: { ...base, q: 'w100', sort: { field: 'rank', descending: true } },
      },
      {
        name: 'case worker: q=word in 50 % of cases',
        filter: { ...base, q: 'everywhere', sort: { field: 'rank', descending: true } },
      },
    ];

    const rows: string[] = [];
    const plans: string[] = [];
    for (const { name, filter } of scenarios) {
      const { pageSql, params, countSql, countParams } = repository.listStatements(filter);
      const timings: number[] = [];
      let total = 0;
      let estimated = false;
      for (let i = 0; i < RUNS; i += 1) {
        const t0 = performance.now();
        const page = await repository.list(filter);
        timings.push(performance.now() - t0);
        total = page.total;
        estimated = page.totalIsEstimate;
      }
      const explain = async (sql: string, values: unknown[]) =>
        (await dataSource.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, values))
          .map((r) => r['QUERY PLAN'])
          .join('\n');
      const plan = await explain(pageSql, params);
      // The count with q runs with bitmap scans only (BITMAP_ONLY); EXPLAIN it the same way.
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      await runner.query(`BEGIN READ ONLY; ${filter.q ? BITMAP_ONLY : ''}`);
      const countPlan = (
        (await runner.query(`EXPLAIN ${countSql}`, countParams)) as { 'QUERY PLAN': string }[]
      )
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      await runner.query('COMMIT');
      await runner.release();
      const seqScan = /Seq Scan on cases\b/.test(`${plan}\n${countPlan}`);
      const indexes = [
        ...new Set(
          `${plan}\n${countPlan}`.match(
            /(?:Index|Bitmap Index|Index Only) Scan (?:Backward )?(?:using|on) (\S+)/g,
          ) ?? [],
        ),
      ]
        .map((m) => m.split(' ').pop())
        .join(', ');
      const p50 = percentile(timings, 50);
      const p95 = percentile(timings, 95);
      rows.push(
        `| ${name} | ${estimated ? '~' : ''}${total.toLocaleString('en')} | ${p50.toFixed(2)} | ${p95.toFixed(2)} | ${indexes || '—'} | ${seqScan ? '**yes**' : 'no'} | ${p95 < 25 ? 'pass' : 'short'} |`,
      );
      plans.push(`-- ${name}\n${plan}\n-- count:\n${countPlan}`);
      console.log(
        `${name}: total ${estimated ? '~' : ''}${total}, p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, seq scan on cases: ${seqScan}`,
      );
    }
    writeBenchmarkSection(
      'cases-search',
      `## Case list and search (issue 3, P5 cases part)

Command: \`npm run bench:cases\` — ${CASES.toLocaleString('en')} cases, ${NOTES.toLocaleString('en')} notes,
${USERS} case workers (one lead each case), seeded in ${seededSeconds.toFixed(0)} s. Each row runs the
repository's \`list\` ${RUNS} times, as the endpoint does (the page's rows and the count capped
at ${(EXACT_COUNT_LIMIT + 1).toLocaleString('en')} concurrently, each in a read-only transaction; then, for a page past the
own-text matches, tier 3; past ${EXACT_COUNT_LIMIT.toLocaleString('en')} matches, the planner's estimate); times in ms;
\`total\` is what the endpoint reports (~ an estimate). Every case worker's lead cases
are every 200th case, so all of bench1's hold "everywhere".
Notes now draw their own words per note: before, every note had the same 12 words (a
folded LATERAL constant), so one frequent word matched every case in earlier runs. Load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}.
Target P5: p95 < 25 ms with index use and no sequential scan of \`cases\`.

| scenario | total | p50 | p95 | indexes in the plans | seq scan on cases | P5 |
|---|---|---|---|---|---|---|
${rows.join('\n')}

<details><summary>Plans (EXPLAIN of the page and count statements)</summary>

\`\`\`
${plans.join('\n\n')}
\`\`\`
</details>`,
    );
  } finally {
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
