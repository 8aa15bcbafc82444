import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { DataSource } from 'typeorm';
import { CaseListFilter, CasesRepository } from '../src/cases/cases.repository';
import { BITMAP_ONLY } from '../src/search/planner';
import { databaseOptions } from '../src/core/database/database-options';
import { SearchType } from '../src/search/dto/search.dto';
import { PAGE_SETTINGS, SearchFilter, SearchRepository } from '../src/search/search.repository';
import { percentile, throwawayDatabase, writeBenchmarkSection } from './bench-db';
import { SystemClock } from '../src/core/clock/clock';
import { ReplicaReads } from '../src/core/database/replica-reads';

/**
 * Issue 5 / TARGETS P5: full-text search with 100k cases and 1M transcript segments
 * (100k transcriptions × 10 segments of 15 words), 100k notes. Runs the exact SQL of
 * GET /search (SearchRepository) and of GET /cases?q= (CasesRepository, whose case
 * vector now carries transcript words), reports p50/p95 over repeated executions and
 * keeps one EXPLAIN ANALYZE per scenario, checking that indexes are used and no big
 * table is scanned sequentially.
 *
 * Second part: what the GIN expression index on `turns` (for searching turns) costs
 * ingestion — the worker's multi-row INSERT … FROM unnest … ON CONFLICT DO NOTHING of
 * 100k turns in batches of 500, into two identical partitioned tables with and without
 * the index, alternated over several rounds in the same run.
 *
 *   npm run bench:search           BENCH_ONLY=search|turns-index  BENCH_CASES=100000
 */
const CASES = Number(process.env.BENCH_CASES ?? 100_000);
const SEGMENTS_PER_TRANSCRIPT = 10;
const WORDS_PER_SEGMENT = 15;
const NOTES = Number(process.env.BENCH_NOTES ?? 100_000);
const USERS = 200;
const CONVERSATIONS = 200;
const TURNS = Number(process.env.BENCH_TURNS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const INGEST_TURNS = Number(process.env.BENCH_INGEST_TURNS ?? 100_000);
const INGEST_BATCH = 500;
const INGEST_ROUNDS = Number(process.env.BENCH_INGEST_ROUNDS ?? 3);
const ONLY = (process.env.BENCH_ONLY ?? 'search,turns-index').split(',');
const TARGET_MS = 25;

/** Zipf-like vocabulary as in bench:cases: P(word n) ∝ 1/n over w100..w20000. */
const WORD = `('w' || floor(exp(ln(100) + random() * (ln(20000) - ln(100))))::int)`;
const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);

/** Scenarios whose whole plan is printed (the others' indexes are in the table). */
const SHOWN_PLANS = new Set([
  '/search supervisor: rare word (w9000), all types',
  '/search case worker: rare word',
  '/cases?q= supervisor: mid-frequency word',
]);

interface Scenario {
  name: string;
  /** Runs the endpoint's statements once; resolves to the endpoint's `total` (~ an estimate). */
  run: () => Promise<string>;
  /** The statements EXPLAIN ANALYZE is run for, with the planner settings they run with. */
  explain: { sql: string; params: unknown[]; settings: string }[];
}

async function seed(dataSource: DataSource): Promise<{ creator: string; worker: string }> {
  const phrase = (n: number, salt: string) =>
    `(SELECT string_agg(${WORD}, ' ') FROM generate_series(1, ${n}) WHERE ${salt} IS NOT NULL)`;
  await dataSource.query(
    `INSERT INTO users (username, email, full_name, password_hash, role)
     SELECT 'bench' || g, 'bench' || g || '@bench.local', 'Bench ' || g, 'x', 'case_worker'
       FROM generate_series(1, ${USERS}) g`,
  );
  const [creator] = await dataSource.query<{ id: string }[]>(
    `SELECT id FROM users WHERE username = 'admin'`,
  );
  log(`seeding ${CASES} cases`);
  await dataSource.query(
    `INSERT INTO cases (case_code, title, description, status, priority, created_by, created_at)
     SELECT 'CASE-B-' || lpad(g::text, 7, '0'), ${phrase(5, 'g')}, ${phrase(30, 'g')},
            (ARRAY['active','pending','closed'])[1 + g % 3], (ARRAY['high','medium','low'])[1 + g % 3], $1,
            now() - (g || ' minutes')::interval
       FROM generate_series(1, ${CASES}) g`,
    [creator!.id],
  );
  await dataSource.query(
    `INSERT INTO case_participants (case_id, user_id, role)
     SELECT c.id, u.id, 'lead' FROM (SELECT id, row_number() OVER () AS n FROM cases) c
       JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users WHERE username LIKE 'bench%') u
         ON u.n = c.n % ${USERS}`,
  );
  log(`seeding ${NOTES} notes`);
  await dataSource.query(
    `INSERT INTO case_notes (case_id, author_id, body)
     SELECT c.id, $1, ${phrase(12, 'c.id')} FROM (SELECT id FROM cases ORDER BY random() LIMIT ${NOTES}) c`,
    [creator!.id],
  );
  log('seeding one audio file per case (70 % en, 20 % de, 10 % unknown language)');
  await dataSource.query(
    `INSERT INTO audio_files (id, case_id, original_name, mime_type, size_bytes, duration_seconds, sha256,
                              status, language, storage_type, storage_key, uploaded_by)
     SELECT gen_random_uuid(), c.id, 'call-' || c.n || '.wav', 'audio/wav', 1000000, 60,
            encode(sha256(c.id::text::bytea), 'hex'), 'processed',
            CASE WHEN c.n % 10 < 7 THEN 'en' WHEN c.n % 10 < 9 THEN 'de' END,
            'local', 'cases/' || c.id || '/x.wav', $1
       FROM (SELECT id, row_number() OVER () AS n FROM cases) c`,
    [creator!.id],
  );
  const chunk = 10_000;
  for (let offset = 0; offset < CASES; offset += chunk) {
    // The row trigger parses each transcript; the statement trigger folds the batch's
    // lexemes into the cases' vectors — the same work as CASES posts, in bulk.
    await dataSource.query(
      `INSERT INTO transcriptions (audio_file_id, case_id, version, audio_sha256, language, content,
                                   segments, segment_count, engine, confidence, created_by)
       SELECT a.id, a.case_id, 1, a.sha256, a.language, x.content, x.segments, ${SEGMENTS_PER_TRANSCRIPT},
              'bench-engine', 0.9, $1
         FROM (SELECT * FROM audio_files ORDER BY id OFFSET ${offset} LIMIT ${chunk}) a,
         LATERAL (
           SELECT string_agg(seg.text, E'\\n' ORDER BY s) AS content,
                  jsonb_agg(jsonb_build_object('start', s * 6, 'end', s * 6 + 5.5,
                            'speaker', 'Speaker_' || (s % 2), 'text', seg.text,
                            'confidence', 0.9) ORDER BY s) AS segments
             FROM generate_series(0, ${SEGMENTS_PER_TRANSCRIPT - 1}) s,
             LATERAL ${phrase(WORDS_PER_SEGMENT, 's + length(a.id::text)')} AS seg(text)
         ) x`,
      [creator!.id],
    );
    log(`  transcriptions ${Math.min(offset + chunk, CASES)} / ${CASES}`);
  }
  log(
    `seeding ${TURNS.toLocaleString('en')} turns in ${CONVERSATIONS} conversations (half linked to cases)`,
  );
  await dataSource.query(
    `INSERT INTO conversations (name, case_id, partition_month, created_by)
     SELECT 'bench conversation ' || g, CASE WHEN g % 2 = 0 THEN c.id END,
            date_trunc('month', now())::date, $1
       FROM generate_series(1, ${CONVERSATIONS}) g
       JOIN (SELECT id, row_number() OVER () AS n FROM cases LIMIT ${CONVERSATIONS}) c ON c.n = g`,
    [creator!.id],
  );
  await dataSource.query(
    `INSERT INTO conversation_participants (conversation_id, user_id)
     SELECT cv.id, u.id FROM (SELECT id, row_number() OVER () AS n FROM conversations) cv
       JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users WHERE username LIKE 'bench%') u
         ON u.n = cv.n % ${USERS}`,
  );
  await dataSource.query(
    `INSERT INTO turns (partition_month, conversation_id, message_number, speaker, raw_text, spoken_at,
                        confidence, received_at, persisted_at)
     SELECT cv.partition_month, cv.id, m, 'Speaker_' || (m % 2), ${phrase(12, 'm')},
            now() - (m || ' seconds')::interval, 0.9, now(), now()
       FROM conversations cv, generate_series(1, ${TURNS / CONVERSATIONS}) m`,
  );
  log('VACUUM ANALYZE');
  await dataSource.query('VACUUM ANALYZE');
  const [worker] = await dataSource.query<{ id: string }[]>(
    `SELECT id FROM users WHERE username = 'bench1'`,
  );
  return { creator: creator!.id, worker: worker!.id };
}

/** BENCH_REUSE_DB=<name>: a database an earlier run kept (BENCH_KEEP_DB=1), already seeded. */
const REUSE = process.env.BENCH_REUSE_DB;
const KEEP = process.env.BENCH_KEEP_DB === '1';

async function reuseDatabase(
  name: string,
): Promise<{ dataSource: DataSource; drop: () => Promise<void> }> {
  const url = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres',
  );
  url.pathname = `/${name}`;
  const dataSource = new DataSource(databaseOptions({ url: url.toString(), poolSize: 4 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return { dataSource, drop: () => dataSource.destroy() };
}

async function seeded(dataSource: DataSource): Promise<{ worker: string }> {
  const [worker] = await dataSource.query<{ id: string }[]>(
    `SELECT id FROM users WHERE username = 'bench1'`,
  );
  return { worker: worker!.id };
}

const shownTotal = (page: { total: number; totalIsEstimate: boolean }): string =>
  `${page.totalIsEstimate ? '~' : ''}${page.total.toLocaleString('en')}`;

async function timed(
  run: () => Promise<string>,
): Promise<{ p50: number; p95: number; total: string }> {
  const total = await run(); // warms the cache and the plan
  const timings: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const t0 = performance.now();
    await run();
    timings.push(performance.now() - t0);
  }
  return { p50: percentile(timings, 50), p95: percentile(timings, 95), total };
}

async function explain(dataSource: DataSource, statements: Scenario['explain']): Promise<string> {
  const plans: string[] = [];
  for (const { sql, params, settings } of statements) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(`BEGIN READ ONLY; ${settings}`);
      const rows = (await runner.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params)) as {
        'QUERY PLAN': string;
      }[];
      plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
      await runner.query('COMMIT');
    } finally {
      await runner.release();
    }
  }
  return plans.join('\n-- next statement:\n');
}

/** Relations the plan scans sequentially that hold more than a handful of rows. */
async function bigSeqScans(dataSource: DataSource, plan: string): Promise<string[]> {
  const scanned = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!);
  if (scanned.length === 0) return [];
  const rows = await dataSource.query<{ relname: string }[]>(
    `SELECT relname FROM pg_class WHERE relname = ANY ($1) AND reltuples > 1000`,
    [scanned],
  );
  return [...new Set(rows.map((r) => r.relname))];
}

function indexesOf(plan: string): string {
  return [
    ...new Set(
      (plan.match(/(?:Index|Bitmap Index|Index Only) Scan (?:Backward )?(?:using|on) (\S+)/g) ?? [])
        .map((m) => m.split(' ').pop()!)
        .filter(
          (name) => !/^(PK_|IDX_|UQ_)/.test(name.replace(/"/g, '')) || name.includes('373c0a'),
        ),
    ),
  ].join(', ');
}

async function searchPart(): Promise<string> {
  const started = Date.now();
  const startLoad = loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  const db = REUSE ? await reuseDatabase(REUSE) : await throwawayDatabase('search');
  const { dataSource } = db;
  try {
    const { worker } = REUSE ? await seeded(dataSource) : await seed(dataSource);
    const seededSeconds = (Date.now() - started) / 1000;
    const [sizes] = await dataSource.query<Record<string, string>[]>(
      `SELECT pg_size_pretty(pg_total_relation_size('transcriptions')) AS transcriptions,
              pg_size_pretty(pg_relation_size('transcriptions_search_vector_idx')) AS transcript_index,
              pg_size_pretty(pg_relation_size('cases_search_vector_idx')) AS case_index,
              pg_size_pretty(pg_relation_size('cases_transcripts_search_idx')) AS case_transcripts_index,
              (SELECT count(*) FROM transcriptions)::text AS transcripts,
              (SELECT sum(segment_count) FROM transcriptions)::text AS segments`,
    );
    const search = new SearchRepository(
      dataSource,
      new ReplicaReads(dataSource, new SystemClock()),
    );
    const cases = new CasesRepository(dataSource, new ReplicaReads(dataSource, new SystemClock()));
    const { configs } = await search.prepare('w100');

    /** GET /search as the repository runs it: the page query and its count, concurrently. */
    const searchScenario = (
      name: string,
      q: string,
      actor: { seesAll: boolean },
      types: SearchType[] = ['cases', 'transcriptions', 'notes', 'turns'],
    ): Scenario => {
      const filter: SearchFilter = {
        q,
        types,
        actorId: worker,
        seesAll: actor.seesAll,
        configs,
        offset: 0,
        limit: 20,
      };
      const { pageSql, params, countSql, countParams } = search.statements(filter);
      const serial = 'SET LOCAL max_parallel_workers_per_gather = 0';
      return {
        name,
        run: async () => shownTotal(await search.search(filter)),
        // The count runs only when a type filled its candidates; EXPLAIN shows it always.
        explain: [
          { sql: pageSql, params, settings: `${serial}; ${PAGE_SETTINGS}` },
          { sql: countSql, params: countParams, settings: `${serial}; ${BITMAP_ONLY}` },
        ],
      };
    };
    /** GET /cases?q= as the repository runs it: list and count concurrently. */
    const casesScenario = (name: string, q: string, seesAll: boolean): Scenario => {
      const filter: CaseListFilter = {
        actorId: worker,
        seesAll,
        q,
        sort: { field: 'rank', descending: true },
        offset: 0,
        limit: 20,
      };
      const { pageSql, params, countSql, countParams } = cases.listStatements(filter);
      return {
        name,
        run: async () => shownTotal(await cases.list(filter)),
        explain: [
          { sql: pageSql, params, settings: '' },
          { sql: countSql, params: countParams, settings: BITMAP_ONLY },
        ],
      };
    };

    const supervisor = { seesAll: true };
    const caseWorker = { seesAll: false };
    const scenarios: Scenario[] = [
      searchScenario('/search supervisor: rare word (w9000), all types', 'w9000', supervisor),
      searchScenario('/search supervisor: mid-frequency word (w400)', 'w400', supervisor),
      searchScenario('/search supervisor: two words, AND (w300 w301)', 'w300 w301', supervisor),
      searchScenario('/search supervisor: phrase ("w200 w201")', '"w200 w201"', supervisor),
      searchScenario('/search supervisor: transcriptions only, rare word', 'w9000', supervisor, [
        'transcriptions',
      ]),
      searchScenario(
        '/search supervisor: most common word (w100, ~25 % of transcripts)',
        'w100',
        supervisor,
      ),
      searchScenario('/search case worker: rare word', 'w9000', caseWorker),
      searchScenario('/search case worker: most common word', 'w100', caseWorker),
      casesScenario('/cases?q= supervisor: rare word', 'w9000', true),
      casesScenario('/cases?q= supervisor: mid-frequency word', 'w400', true),
      casesScenario('/cases?q= supervisor: most common word', 'w100', true),
      casesScenario('/cases?q= case worker: most common word', 'w100', false),
    ];

    const rows: string[] = [];
    const plans: string[] = [];
    for (const scenario of scenarios) {
      const { p50, p95, total } = await timed(scenario.run);
      const plan = await explain(dataSource, scenario.explain);
      const seqScan = (await bigSeqScans(dataSource, plan)).join(', ') || undefined;
      rows.push(
        `| ${scenario.name} | ${total} | ${p50.toFixed(2)} | ${p95.toFixed(2)} | ${indexesOf(plan) || '—'} | ${seqScan ? `**${seqScan}**` : 'none'} | ${p95 < TARGET_MS ? 'pass' : 'short'} |`,
      );
      // The table lists the indexes of every plan; these show what each kind of query does.
      if (SHOWN_PLANS.has(scenario.name)) plans.push(`-- ${scenario.name}\n${plan}`);
      log(
        `${scenario.name}: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, seq scan: ${seqScan ?? 'none'}`,
      );
    }
    return `### Search at scale (TARGETS P5)

Command: \`npm run bench:search\` — ${CASES.toLocaleString('en')} cases (one lead each among ${USERS}
case workers), ${NOTES.toLocaleString('en')} notes, ${TURNS.toLocaleString('en')} persisted turns in ${CONVERSATIONS} conversations, ${sizes!.transcripts} transcriptions with
${Number(sizes!.segments).toLocaleString('en')} segments of ${WORDS_PER_SEGMENT} words (Zipf-like
vocabulary as in \`bench:cases\`; 70 % English, 20 % German, 10 % unknown language), seeded
through the real triggers in ${seededSeconds.toFixed(0)} s. Transcriptions table ${sizes!.transcriptions},
its GIN index ${sizes!.transcript_index}; on \`cases\` the own-text vector index ${sizes!.case_index} and the
transcript-lexemes index ${sizes!.case_transcripts_index}. Each row runs the
endpoint's exact SQL ${RUNS} times after one warm-up, as the endpoint runs it (\`/search\`: one
prepared statement for the ranked page and one for the count capped at 1,001, concurrently, each in a
read-only transaction with bitmap scans only and no parallel workers; \`/cases?q=\`: the repository's
\`list\` — page and capped count concurrently, then the rows); times in ms, \`matches\` is
the endpoint's \`total\` (~: past 1,000 matches, the planner's estimate). The plans below are EXPLAIN ANALYZE of the same SQL with the values
bound (a custom plan; the endpoint reuses a generic plan after a few executions). Load
average at the start ${startLoad}, at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' / ',
      )}. Target P5: p95 < ${TARGET_MS} ms, indexes used, no sequential scan of a big table.

| scenario | matches | p50 | p95 | indexes in the plan | seq scan | P5 |
|---|---|---|---|---|---|---|
${rows.join('\n')}

<details><summary>EXPLAIN (ANALYZE, BUFFERS) of three of them</summary>

\`\`\`
${plans.join('\n\n')}
\`\`\`
</details>`;
  } finally {
    if (KEEP && !REUSE) {
      log(`kept database ${(dataSource.options as { url: string }).url} (BENCH_REUSE_DB)`);
      await dataSource.destroy();
    } else {
      await db.drop();
    }
  }
}

// --- part 2: ingestion cost of the turns search index ----------------------------------

const TURN_WORDS = (
  'the a to and of is that it you in we i for this on was be have not with they are but at so ' +
  'what can do if there about just one all my would your our out like know will think right ' +
  'call police witness door car report statement officer house night time money phone address'
).split(' ');

function turnText(i: number): string {
  const words: string[] = [];
  const n = 8 + (i % 17);
  for (let k = 0; k < n; k += 1) {
    words.push(
      Math.random() < 0.7
        ? TURN_WORDS[Math.floor(Math.random() * TURN_WORDS.length)]!
        : `w${Math.floor(Math.exp(Math.log(100) + Math.random() * (Math.log(20000) - Math.log(100))))}`,
    );
  }
  return words.join(' ');
}

/** Index variants compared with the plain table; `default` is what the migration creates. */
const GIN = `USING GIN (to_tsvector('simple'::regconfig, coalesce(cleaned_text, raw_text)))`;
const VARIANTS = [
  { key: 'plain', label: 'without a search index', index: null },
  { key: 'gin', label: '`turns_search_idx` as migrated (fast update on, 4 MB list)', index: GIN },
  {
    key: 'gin_list32',
    label: 'same, `gin_pending_list_limit` 32 MB',
    index: `${GIN} WITH (gin_pending_list_limit = 32768)`,
  },
  { key: 'gin_nofast', label: 'same, `fastupdate` off', index: `${GIN} WITH (fastupdate = off)` },
] as const;

async function turnsIndexPart(): Promise<string> {
  const db = await throwawayDatabase('turnsidx');
  const { dataSource } = db;
  try {
    const month = `${new Date().toISOString().slice(0, 7)}-01`;
    for (const variant of VARIANTS) {
      const table = `bench_turns_${variant.key}`;
      await dataSource.query(
        `CREATE TABLE ${table} (LIKE turns INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (partition_month)`,
      );
      await dataSource.query(
        `ALTER TABLE ${table} ADD PRIMARY KEY (id, partition_month), ADD UNIQUE (conversation_id, message_number, partition_month)`,
      );
      await dataSource.query(`CREATE INDEX ON ${table} (conversation_id, spoken_at)`);
      if (variant.index) await dataSource.query(`CREATE INDEX ON ${table} ${variant.index}`);
      await dataSource.query(
        `CREATE TABLE ${table}_m PARTITION OF ${table} FOR VALUES FROM ('${month}') TO ('${month}'::date + interval '1 month')`,
      );
    }
    const texts = Array.from({ length: INGEST_TURNS }, (_, i) => turnText(i));
    const avgWords = texts.reduce((n, t) => n + t.split(' ').length, 0) / texts.length;
    const insert = async (table: string, round: number): Promise<number> => {
      const conversation = `00000000-0000-4000-8000-${String(round).padStart(12, '0')}`;
      const t0 = performance.now();
      for (let start = 0; start < INGEST_TURNS; start += INGEST_BATCH) {
        const n = Math.min(INGEST_BATCH, INGEST_TURNS - start);
        const numbers = Array.from({ length: n }, (_, i) => start + i + 1);
        await dataSource.query(
          `INSERT INTO ${table} (partition_month, conversation_id, message_number, speaker, raw_text,
                                 spoken_at, confidence, received_at, persisted_at)
           SELECT $1::date, $2::uuid, m, 'Speaker_' || (m % 2), t, now(), 0.9, now(), now()
             FROM unnest($3::int[], $4::text[]) AS u(m, t)
           ON CONFLICT (conversation_id, message_number, partition_month) DO NOTHING`,
          [month, conversation, numbers, texts.slice(start, start + n)],
        );
      }
      return INGEST_TURNS / ((performance.now() - t0) / 1000);
    };
    const rates = new Map<string, number[]>(VARIANTS.map((v) => [v.key, []]));
    for (let round = 0; round < INGEST_ROUNDS; round += 1) {
      // Rotate the order so no variant always runs first (or last) in a round.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const variant of order) {
        const rate = await insert(`bench_turns_${variant.key}`, round);
        rates.get(variant.key)!.push(rate);
        log(`turns-index round ${round + 1}: ${variant.key} ${rate.toFixed(0)} turns/s`);
      }
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    const plain = median(rates.get('plain')!);
    const rows: string[] = [];
    for (const variant of VARIANTS) {
      const table = `bench_turns_${variant.key}_m`;
      const [size] = await dataSource.query<{ total: string; gin: string | null }[]>(
        `SELECT pg_size_pretty(pg_total_relation_size($1::regclass)) AS total,
                pg_size_pretty((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i
                                 JOIN pg_class c ON c.oid = i.indexrelid
                                WHERE i.indrelid = $1::regclass
                                  AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'gin'))) AS gin`,
        [table],
      );
      const rate = median(rates.get(variant.key)!);
      rows.push(
        `| ${variant.label} | ${rate.toFixed(0)} | ${rates
          .get(variant.key)!
          .map((r) => r.toFixed(0))
          .join(
            ', ',
          )} | ${variant.index ? `${((1 - rate / plain) * 100).toFixed(0)} %` : '—'} | ${size!.total}${size!.gin ? ` (GIN ${size!.gin})` : ''} |`,
      );
      log(`turns-index ${variant.key}: ${rate.toFixed(0)} turns/s`);
    }
    return `## What the turns search index costs ingestion (issue 5)

Command: \`npm run bench:search\` (second part; \`BENCH_ONLY=turns-index\` runs it alone). Run
${new Date().toISOString()}, load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}. ${INGEST_ROUNDS} rounds of ${INGEST_TURNS.toLocaleString('en')} turns
per variant (${avgWords.toFixed(1)} words each on average, everyday words plus the Zipf vocabulary),
written as the persistence worker writes them — multi-row \`INSERT … SELECT FROM unnest(…) ON
CONFLICT DO NOTHING\`, ${INGEST_BATCH} rows per statement, one connection — into partitioned
tables identical to \`turns\` (primary key, idempotency key, (conversation, spoken_at) index),
with and without the search index. The order of the variants rotates each round; medians.

| variant | turns/s (median) | each round | insert cost vs no index | size after all rounds |
|---|---|---|---|---|
${rows.join('\n')}

With fast update on, most batches append to GIN's pending list and some pay for merging it
into the tree; autovacuum also merges it in the background, which this does not count.`;
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  if (ONLY.includes('search')) {
    writeBenchmarkSection(
      'search',
      `## Search: transcripts, notes, cases and turns (issue 5, P5)\n\n${await searchPart()}`,
    );
  }
  if (ONLY.includes('turns-index')) {
    writeBenchmarkSection('search-turns-index', await turnsIndexPart());
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
