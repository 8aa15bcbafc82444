/**
 * P10 and P11 of TARGETS.md — live transcript cleaning (SPEC section 10).
 *
 *   npm run bench:cleaning
 *   BENCH_RUNS=3 BENCH_P11_SECONDS=15 BENCH_P10_LEVELS=10000,1000000 BENCH_P10_SAMPLES=200 \
 *   BENCH_ONLY=p10,p11 npm run bench:cleaning
 *   BENCH_P11_TAMPER=lose|duplicate   proves the revision check fails (exit code 2).
 *
 * Creates a throwaway database and Redis prefix, runs the real API and a worker process
 * (as production: createApp / WorkerModule in child processes), loads it over loopback
 * from this process, and drops everything at the end.
 *
 * P10: two conversations of 10,000 and 1,000,000 turns, seeded straight into the turns
 *      table with generate_series (POSTing a million turns would measure P1, not P10),
 *      then VACUUM ANALYZE. Each filter of GET /conversations/:id/turns is timed THROUGH
 *      HTTP, one request at a time, a page of 100 at a random cursor, alternating the two
 *      conversations; every answer is checked against the filter. The exact statement
 *      TurnsRepository.listAfter sends is EXPLAINed (ANALYZE) for each filter and size:
 *      a sequential scan fails the run.
 * P11: PATCH /conversations/:id/turns/:messageNumber at a constant 1,000 req/s while
 *      5,000 turns/s (250 POSTs/s of 20) are ingested into 16 conversations, one of them
 *      the PATCHed one; half the PATCHes revise turns already in Postgres, half revise
 *      turns ingested moments before (still buffered, or just flushed). Side by side in
 *      the same run, alternating phase by phase under the same ingest: single-turn POST
 *      at 1,000 req/s (the TARGETS baseline). Load is open-loop and paced
 *      (bench/support/paced.ts); latencies count from each request's scheduled time.
 *      After the run drains, every PATCH answered 200 must be in turn_revisions exactly
 *      once with the revision number its answer carried (each PATCH carries a unique
 *      engineRequestId), each revised turn's revisions are 1..n with no gap and its row
 *      says revision n, and every accepted turn is stored once. Anything else exits 2.
 *
 * Exit code: 0 all met, 1 a target is short (or a phase failed), 2 revisions lost or
 * duplicated (or turns lost).
 */
import 'reflect-metadata';
import { Client } from 'pg';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { TurnsRepository } from '../src/conversations/turns/turns.repository';
import { TurnFilter } from '../src/conversations/turns/turn-filter';
import {
  api,
  BENCH_ADMIN,
  benchEnvironment,
  BenchRun,
  createBenchDatabase,
  cpuSeconds,
  destroyBenchRun,
  fmt,
  load,
  login,
  markdownTable,
  median,
  percentile,
  planBenchRun,
  reportSummary,
  sleep,
  startApp,
  startWorker,
  SummaryRow,
  writeSection,
} from './support/harness';
import { HttpClient, paced, PacedResult } from './support/paced';
import { turnBody } from './support/turns';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY = (process.env.BENCH_ONLY ?? 'p10,p11').split(',');
const P10_LEVELS = (process.env.BENCH_P10_LEVELS ?? '10000,1000000').split(',').map(Number);
const P10_SAMPLES = Number(process.env.BENCH_P10_SAMPLES ?? 200);
const P10_PAGE = 100;
const P10_TARGET_MS = 35;
const P11_SECONDS = Number(process.env.BENCH_P11_SECONDS ?? 15);
const P11_RATE = Number(process.env.BENCH_P11_RATE ?? 1_000);
const P11_INGEST_TURNS = Number(process.env.BENCH_P11_INGEST ?? 5_000);
const P11_INGEST_BATCH = 20;
const P11_INGEST_CONVERSATIONS = 16;
/** Turns of the PATCHed conversation persisted before the run (revised over and over). */
const P11_PRESEEDED = 3_000;
const P11_TARGET_MS = 20;
const TAMPER = process.env.BENCH_P11_TAMPER as 'lose' | 'duplicate' | undefined;

const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);
const ms = (value: number): string => `${value.toFixed(1)} ms`;

interface Context {
  run: BenchRun;
  pg: Client;
  redis: Redis;
  appUrl: string;
  appPid?: number;
  workerPid?: number;
  token: string;
  adminId: string;
  loads: string[];
}

async function createConversation(ctx: Context, name: string): Promise<string> {
  const created = await api<{ id: string }>(
    ctx.appUrl,
    'POST',
    '/conversations',
    { name: `${name}-${ctx.run.id}` },
    ctx.token,
  );
  return created.id;
}

// --- P10 -------------------------------------------------------------------------------------

const DOMAINS = ['legal', 'finance', 'medical', 'technical', 'general'];
const CONTEXTS = ['testimony', 'hearing', 'objection', 'ruling', 'exhibit', 'sidebar', 'recess'];

/**
 * Turn n of a seeded conversation. Moduli are pairwise coprime, so the values are
 * independent: speaker 1/4, businessDomain 1/5, contextDetected 1/7, confidence spread
 * over 0..0.99 (HIGH 15 %, MEDIUM 25 %, LOW 60 %), 95 % cleaned (light or full), an
 * error in 1 of 53, one second apart.
 */
const SEED_SELECT = `
  SELECT $1::date, $2::uuid, n, 'Speaker_' || (n % 4),
         'seeded turn ' || n || ' and then the witness said that on the evening he was at home',
         CASE WHEN n % 20 <> 0 THEN 'cleaned turn ' || n END,
         $3::timestamptz + n * interval '1 second',
         ((n::bigint * 7919) % 101) / 101.0,
         n % 20 <> 0,
         CASE WHEN n % 20 = 0 THEN 'none' WHEN n % 3 = 0 THEN 'full' ELSE 'light' END,
         '[]', (ARRAY[${CONTEXTS.map((c) => `'${c}'`).join(',')}])[n % 7 + 1],
         (ARRAY[${DOMAINS.map((d) => `'${d}'`).join(',')}])[n % 5 + 1],
         NULL, 'whisper-large-v3', n % 53 = 0, 80 + n % 120, $4::uuid, now(), now()
    FROM generate_series($5::int, $6::int) n`;

const SEED_COLUMNS = `partition_month, conversation_id, message_number, speaker, raw_text,
  cleaned_text, spoken_at, confidence, cleaning_applied, cleaning_level, corrections,
  context_detected, business_domain, conversation_flow, ai_model_used,
  transcription_error_detected, processing_time_ms, ingested_by, received_at, persisted_at`;

interface Seeded {
  id: string;
  month: string;
  size: number;
  /** spokenAt of turn n is t0 + n seconds. */
  t0: number;
}

async function seedConversation(ctx: Context, size: number): Promise<Seeded> {
  const id = await createConversation(ctx, `p10-${size}`);
  const { rows } = await ctx.pg.query<{ month: string }>(
    'SELECT partition_month::text AS month FROM conversations WHERE id = $1',
    [id],
  );
  const month = rows[0]!.month;
  const t0 = Date.now() - (size + 3600) * 1000;
  for (let from = 1; from <= size; from += 250_000) {
    const to = Math.min(size, from + 249_999);
    await ctx.pg.query(`INSERT INTO turns (${SEED_COLUMNS}) ${SEED_SELECT}`, [
      month,
      id,
      new Date(t0).toISOString(),
      ctx.adminId,
      from,
      to,
    ]);
  }
  return { id, month, size, t0 };
}

interface TurnJson {
  messageNumber: number;
  speaker: string;
  businessDomain: string | null;
  contextDetected: string | null;
  confidenceLevel: string;
  cleaningApplied: boolean;
  cleaningLevel: string;
  transcriptionErrorDetected: boolean;
  spokenAt: string;
}

interface FilterCase {
  name: string;
  /** Query string parameters (besides after and limit). */
  query: (s: Seeded) => Record<string, string>;
  /** The same filter as TurnsRepository takes it, for the EXPLAIN. */
  filter: (s: Seeded) => TurnFilter;
  matches: (t: TurnJson, s: Seeded) => boolean;
  /** Random cursors are drawn from [lo, hi). */
  cursors: (s: Seeded) => [number, number];
}

/** A one-hour spokenAt window in the middle of the conversation. */
const windowOf = (s: Seeded): { from: Date; to: Date; first: number } => {
  const first = Math.floor(s.size / 2);
  return {
    first,
    from: new Date(s.t0 + first * 1000),
    to: new Date(s.t0 + (first + 3600) * 1000),
  };
};
const firstHalf = (s: Seeded): [number, number] => [0, Math.floor(s.size / 2)];

const FILTERS: FilterCase[] = [
  {
    name: 'speaker=Speaker_1',
    query: () => ({ speaker: 'Speaker_1' }),
    filter: () => ({ speaker: 'Speaker_1' }),
    matches: (t) => t.speaker === 'Speaker_1',
    cursors: firstHalf,
  },
  {
    name: 'businessDomain=medical',
    query: () => ({ businessDomain: 'medical' }),
    filter: () => ({ businessDomain: 'medical' }),
    matches: (t) => t.businessDomain === 'medical',
    cursors: firstHalf,
  },
  {
    name: 'contextDetected=objection',
    query: () => ({ contextDetected: 'objection' }),
    filter: () => ({ contextDetected: 'objection' }),
    matches: (t) => t.contextDetected === 'objection',
    cursors: firstHalf,
  },
  {
    name: 'confidenceLevel=HIGH',
    query: () => ({ confidenceLevel: 'HIGH' }),
    filter: () => ({ confidenceLevel: 'HIGH' }),
    matches: (t) => t.confidenceLevel === 'HIGH',
    cursors: firstHalf,
  },
  {
    name: 'cleaned=false (5 %)',
    query: () => ({ cleaned: 'false' }),
    filter: () => ({ cleaned: false }),
    matches: (t) => !t.cleaningApplied,
    cursors: firstHalf,
  },
  {
    name: 'cleaningLevel=full',
    query: () => ({ cleaningLevel: 'full' }),
    filter: () => ({ cleaningLevel: 'full' }),
    matches: (t) => t.cleaningLevel === 'full',
    cursors: firstHalf,
  },
  {
    name: 'errors=true (1 in 53)',
    query: () => ({ errors: 'true' }),
    filter: () => ({ errors: true }),
    matches: (t) => t.transcriptionErrorDetected,
    cursors: firstHalf,
  },
  {
    name: 'from/to (one hour)',
    query: (s) => {
      const w = windowOf(s);
      return { from: w.from.toISOString(), to: w.to.toISOString() };
    },
    filter: (s) => {
      const w = windowOf(s);
      return { from: w.from, to: w.to };
    },
    matches: (t, s) => {
      const w = windowOf(s);
      const at = Date.parse(t.spokenAt);
      return at >= w.from.getTime() && at < w.to.getTime();
    },
    cursors: (s) => {
      const w = windowOf(s);
      return [w.first - 100, w.first + 3400];
    },
  },
  {
    name: 'businessDomain=legal & confidenceLevel=MEDIUM & cleaned=true',
    query: () => ({ businessDomain: 'legal', confidenceLevel: 'MEDIUM', cleaned: 'true' }),
    filter: () => ({ businessDomain: 'legal', confidenceLevel: 'MEDIUM', cleaned: true }),
    matches: (t) =>
      t.businessDomain === 'legal' && t.confidenceLevel === 'MEDIUM' && t.cleaningApplied,
    cursors: firstHalf,
  },
];

interface Plan {
  text: string;
  seqScan: boolean;
  indexes: string[];
  executionMs: number;
}

/** The statement TurnsRepository.listAfter sends for this filter, as it sends it. */
async function listAfterStatement(
  s: Seeded,
  after: number,
  filter: TurnFilter,
): Promise<{ sql: string; parameters: unknown[] }> {
  let captured: { sql: string; parameters: unknown[] } | undefined;
  const capturing = {
    query: (sql: string, parameters: unknown[]) => {
      captured = { sql, parameters };
      return Promise.resolve([]);
    },
  } as unknown as DataSource;
  await new TurnsRepository(capturing).listAfter(s.id, s.month, after, P10_PAGE + 1, filter);
  return captured!;
}

async function explain(ctx: Context, s: Seeded, c: FilterCase): Promise<Plan> {
  const [lo, hi] = c.cursors(s);
  const { sql, parameters } = await listAfterStatement(s, Math.floor((lo + hi) / 2), c.filter(s));
  const { rows } = await ctx.pg.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
    parameters,
  );
  const text = rows.map((r) => r['QUERY PLAN']).join('\n');
  const indexes = new Set<string>();
  for (const m of text.matchAll(
    /(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)/g,
  ))
    indexes.add(m[1]!);
  return {
    text,
    seqScan: /Seq Scan/.test(text),
    indexes: [...indexes],
    executionMs: Number(/Execution Time: ([\d.]+)/.exec(text)?.[1] ?? NaN),
  };
}

interface P10Cell {
  samples: number[];
  plan: Plan;
  matchesInConversation: number;
}

async function benchP10(
  ctx: Context,
  client: HttpClient,
): Promise<{ seeded: Seeded[]; cells: Map<string, P10Cell[]>; seedSeconds: number }> {
  const started = Date.now();
  const seeded: Seeded[] = [];
  for (const size of P10_LEVELS) {
    seeded.push(await seedConversation(ctx, size));
    log(`P10: seeded a conversation of ${fmt(size)} turns (load ${load()})`);
  }
  await ctx.pg.query('VACUUM (ANALYZE) turns');
  const seedSeconds = (Date.now() - started) / 1000;
  log(`P10: seeded and vacuumed in ${seedSeconds.toFixed(0)} s`);

  const cells = new Map<string, P10Cell[]>();
  for (const c of FILTERS) {
    ctx.loads.push(load());
    const row: P10Cell[] = [];
    for (const s of seeded) {
      const { sql, parameters } = await listAfterStatement(s, 0, c.filter(s));
      parameters[3] = 2_000_000_000; // the limit: count every match
      const counted = await ctx.pg.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (${sql}) q`,
        parameters,
      );
      row.push({
        samples: [],
        plan: await explain(ctx, s, c),
        matchesInConversation: counted.rows[0]!.n,
      });
    }
    const page = async (s: Seeded): Promise<number> => {
      const [lo, hi] = c.cursors(s);
      const after = Math.max(0, lo + Math.floor(Math.random() * (hi - lo)));
      const query = new URLSearchParams({
        ...c.query(s),
        after: String(after),
        limit: String(P10_PAGE),
      });
      const answer = await client.timed({
        method: 'GET',
        path: `/api/v1/conversations/${s.id}/turns?${query.toString()}`,
      });
      if (answer.status !== 200)
        throw new Error(`P10 ${c.name}: ${answer.status} ${answer.body.slice(0, 300)}`);
      const body = JSON.parse(answer.body) as { data: TurnJson[] };
      const wrong = body.data.find((t) => !c.matches(t, s) || t.messageNumber <= after);
      if (wrong)
        throw new Error(`P10 ${c.name}: turn ${wrong.messageNumber} does not match the filter`);
      return answer.ms;
    };
    for (let i = 0; i < 20; i++) for (const s of seeded) await page(s); // warm-up
    for (let i = 0; i < P10_SAMPLES; i++) {
      for (let k = 0; k < seeded.length; k++) row[k]!.samples.push(await page(seeded[k]!));
    }
    cells.set(c.name, row);
    log(
      `P10 ${c.name}: ` +
        row
          .map(
            (cell, k) =>
              `${fmt(seeded[k]!.size)} p50 ${ms(percentile(cell.samples, 50))} p95 ${ms(percentile(cell.samples, 95))}` +
              ` (in-PG ${ms(cell.plan.executionMs)}, ${cell.plan.seqScan ? 'SEQ SCAN' : cell.plan.indexes.join(', ')})`,
          )
          .join('; ') +
        ` (load ${load()})`,
    );
  }
  return { seeded, cells, seedSeconds };
}

// --- P11 -------------------------------------------------------------------------------------

interface PatchSent {
  id: string;
  messageNumber: number;
  status?: number | 'error';
  revision?: number;
  /** Set when the 200 described another turn or request than the one sent. */
  mismatch?: string;
}

interface PhaseResult {
  kind: 'patch' | 'post';
  round: number;
  measured: PacedResult;
  ingest: PacedResult;
  ingestedTurns: number;
  /** CPU seconds of the phase: API process, worker process. */
  cpu: { api: number; worker: number };
  load: string;
}

interface P11State {
  patchConversation: string;
  ingestConversations: string[];
  nextNumber: Map<string, number>;
  acceptedTurns: Map<string, number>;
  /** messageNumbers of the PATCHed conversation accepted and not revised yet, newest last. */
  recent: number[];
  preseededCursor: number;
  /** PATCHes of turns ingested during the run (the rest revise preseeded turns). */
  freshPatches: number;
  patches: PatchSent[];
  singleConversations: string[];
  singleAccepted: number;
  singleUnanswered: number;
  ingestUnanswered: number;
}

function cpuMark(ctx: Context): { api: number; worker: number } {
  return { api: cpuSeconds(ctx.appPid), worker: cpuSeconds(ctx.workerPid) };
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 300_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) {
      log(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
      return false;
    }
    await sleep(250);
  }
}

async function storedTurns(ctx: Context, ids: string[]): Promise<number> {
  const { rows } = await ctx.pg.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM turns WHERE conversation_id = ANY($1)',
    [ids],
  );
  return rows[0]!.n;
}

async function setupP11(ctx: Context, client: HttpClient): Promise<P11State> {
  const ingestConversations: string[] = [];
  for (let i = 0; i < P11_INGEST_CONVERSATIONS; i++)
    ingestConversations.push(await createConversation(ctx, `p11-ingest-${i}`));
  const patchConversation = ingestConversations[0]!;
  const spokenBase = Date.now() - 3_600_000;
  for (let first = 1; first <= P11_PRESEEDED; first += 100) {
    const turns = Array.from({ length: 100 }, (_, k) =>
      turnBody(first + k, spokenBase + (first + k) * 100),
    );
    const answer = await client.send({
      method: 'POST',
      path: `/api/v1/conversations/${patchConversation}/turns`,
      body: JSON.stringify({ turns }),
    });
    if (answer.status !== 202) throw new Error(`P11 preseed: ${answer.status} ${answer.body}`);
  }
  const persisted = await waitFor(
    'the preseeded turns',
    async () => (await storedTurns(ctx, [patchConversation])) >= P11_PRESEEDED,
    120_000,
  );
  if (!persisted) throw new Error('P11: the preseeded turns were not persisted');
  return {
    patchConversation,
    ingestConversations,
    nextNumber: new Map(
      ingestConversations.map((id) => [id, id === patchConversation ? P11_PRESEEDED : 0]),
    ),
    acceptedTurns: new Map(
      ingestConversations.map((id) => [id, id === patchConversation ? P11_PRESEEDED : 0]),
    ),
    recent: [],
    preseededCursor: 0,
    freshPatches: 0,
    patches: [],
    singleConversations: [],
    singleAccepted: 0,
    singleUnanswered: 0,
    ingestUnanswered: 0,
  };
}

let patchSequence = 0;

async function phase(
  ctx: Context,
  state: P11State,
  kind: 'patch' | 'post',
  round: number,
): Promise<PhaseResult> {
  const ingestClient = new HttpClient(ctx.appUrl, ctx.token);
  const measuredClient = new HttpClient(ctx.appUrl, ctx.token);
  const phaseLoad = load();
  const cpuBefore = cpuMark(ctx);
  let ingestedTurns = 0;

  // 5,000 turns/s: POSTs of 20, round robin over the conversations.
  const ingestSent: { conversation: string; first: number; last: number }[] = [];
  const ingest = paced(
    ingestClient,
    P11_INGEST_TURNS / P11_INGEST_BATCH,
    P11_SECONDS,
    202,
    (i) => {
      const conversation = state.ingestConversations[i % state.ingestConversations.length]!;
      const first = state.nextNumber.get(conversation)! + 1;
      const last = first + P11_INGEST_BATCH - 1;
      state.nextNumber.set(conversation, last);
      ingestSent[i] = { conversation, first, last };
      const now = Date.now();
      const turns = Array.from({ length: P11_INGEST_BATCH }, (_, k) =>
        turnBody(first + k, now + k),
      );
      return {
        method: 'POST',
        path: `/api/v1/conversations/${conversation}/turns`,
        body: JSON.stringify({ turns }),
      };
    },
    (i, answer) => {
      const sent = ingestSent[i]!;
      if (answer?.status !== 202) {
        if (!answer) state.ingestUnanswered += P11_INGEST_BATCH;
        return;
      }
      const { accepted } = JSON.parse(answer.body) as { accepted: number };
      ingestedTurns += accepted;
      state.acceptedTurns.set(
        sent.conversation,
        state.acceptedTurns.get(sent.conversation)! + accepted,
      );
      if (sent.conversation === state.patchConversation)
        for (let n = sent.first; n <= sent.last; n++) state.recent.push(n);
    },
  );

  let measured: Promise<PacedResult>;
  if (kind === 'patch') {
    const sentHere: PatchSent[] = [];
    measured = paced(
      measuredClient,
      P11_RATE,
      P11_SECONDS,
      200,
      (i) => {
        // Half revise turns long in Postgres (each revised every few seconds); half are
        // the engine's result for a turn ingested moments ago (buffered, or just
        // flushed), each such turn once, oldest first, while there are any.
        const fresh = i % 2 === 1 ? state.recent.shift() : undefined;
        if (fresh !== undefined) state.freshPatches++;
        const messageNumber = fresh ?? (state.preseededCursor++ % P11_PRESEEDED) + 1;
        const id = `bench-${ctx.run.id}-${++patchSequence}`;
        const sent: PatchSent = { id, messageNumber };
        sentHere[i] = sent;
        state.patches.push(sent);
        return {
          method: 'PATCH',
          path: `/api/v1/conversations/${state.patchConversation}/turns/${messageNumber}`,
          body: JSON.stringify({
            cleanedText: `the witness said that on the evening he was at home (${id})`,
            cleaningApplied: true,
            cleaningLevel: patchSequence % 2 ? 'light' : 'full',
            corrections: [
              {
                original: 'sed',
                corrected: 'said',
                confidence: 0.92,
                reason: 'transcription',
                position: { start: 12, end: 15 },
              },
            ],
            processingTimeMs: 40 + (patchSequence % 50),
            engineRequestId: id,
          }),
        };
      },
      (i, answer) => {
        const sent = sentHere[i]!;
        sent.status = answer ? answer.status : 'error';
        if (answer?.status === 200) {
          const body = JSON.parse(answer.body) as {
            revision: number;
            messageNumber: number;
            engineRequestId: string | null;
          };
          if (body.engineRequestId !== sent.id || body.messageNumber !== sent.messageNumber)
            sent.mismatch = `turn ${body.messageNumber} with request ${body.engineRequestId}`;
          sent.revision = body.revision;
        }
      },
    );
  } else {
    const conversation = await createConversation(ctx, `p11-single-${round}`);
    state.singleConversations.push(conversation);
    measured = paced(
      measuredClient,
      P11_RATE,
      P11_SECONDS,
      202,
      (i) => ({
        method: 'POST',
        path: `/api/v1/conversations/${conversation}/turns`,
        body: JSON.stringify(turnBody(i + 1, Date.now())),
      }),
      (_, answer) => {
        if (answer?.status === 202)
          state.singleAccepted += (JSON.parse(answer.body) as { accepted: number }).accepted;
        else if (!answer) state.singleUnanswered++;
      },
    );
  }
  const [measuredResult, ingestResult] = await Promise.all([measured, ingest]);
  const cpuAfter = cpuMark(ctx);
  ingestClient.close();
  measuredClient.close();
  return {
    kind,
    round,
    measured: measuredResult,
    ingest: ingestResult,
    ingestedTurns,
    cpu: {
      api: cpuAfter.api - cpuBefore.api,
      worker: cpuAfter.worker - cpuBefore.worker,
    },
    load: phaseLoad,
  };
}

interface Verification {
  answered: number;
  appliedUnanswered: number;
  revisedTurns: number;
  revisionRows: number;
  maxRevision: number;
  turnsStored: number;
  drainSeconds: number;
  problems: string[];
}

/**
 * Waits for the worker to drain, then checks every revision: each PATCH answered 200 is
 * in turn_revisions exactly once, with the revision its answer named; each revised turn
 * has revisions 1..n and its row says n; every accepted turn is stored once.
 */
async function verifyP11(ctx: Context, state: P11State): Promise<Verification> {
  const started = Date.now();
  const answered = state.patches.filter((p) => p.status === 200);
  const allConversations = [...state.ingestConversations, ...state.singleConversations];
  const acceptedTotal =
    [...state.acceptedTurns.values()].reduce((a, b) => a + b, 0) + state.singleAccepted;
  const revisionCount = async (): Promise<number> => {
    const { rows } = await ctx.pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM turn_revisions WHERE conversation_id = $1 AND revision > 1',
      [state.patchConversation],
    );
    return rows[0]!.n;
  };
  await waitFor('the revisions', async () => (await revisionCount()) >= answered.length);
  await waitFor(
    'the turns',
    async () => (await storedTurns(ctx, allConversations)) >= acceptedTotal,
  );
  // Then until nothing moves for three seconds (PATCHes in flight at the end land too).
  for (let last = -1, stable = 0; stable < 3;) {
    await sleep(1000);
    const now = (await revisionCount()) + (await storedTurns(ctx, allConversations));
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  const drainSeconds = (Date.now() - started) / 1000;

  if (TAMPER === 'lose') {
    await ctx.pg.query(
      `DELETE FROM turn_revisions WHERE (conversation_id, message_number, revision) IN (
         SELECT conversation_id, message_number, revision FROM turn_revisions
          WHERE conversation_id = $1 AND revision > 1 ORDER BY random() LIMIT 1)`,
      [state.patchConversation],
    );
    log('BENCH_P11_TAMPER=lose: deleted one revision row');
  } else if (TAMPER === 'duplicate') {
    await ctx.pg.query(
      `INSERT INTO turn_revisions (conversation_id, message_number, revision, changed_by, changed_at, changes)
       SELECT conversation_id, message_number, revision + 1, changed_by, changed_at, changes
         FROM turn_revisions r WHERE conversation_id = $1
          AND revision = (SELECT max(revision) FROM turn_revisions x
                           WHERE x.conversation_id = r.conversation_id AND x.message_number = r.message_number)
          AND revision > 1 LIMIT 1`,
      [state.patchConversation],
    );
    log('BENCH_P11_TAMPER=duplicate: stored one revision a second time');
  }

  const problems: string[] = [];
  const problem = (message: string): void => {
    if (problems.length < 20) problems.push(message);
    else if (problems.length === 20) problems.push('… more');
  };
  const { rows: revisionRows } = await ctx.pg.query<{
    n: number;
    revision: number;
    rid: string | null;
  }>(
    `SELECT message_number AS n, revision, changes->>'engineRequestId' AS rid
       FROM turn_revisions WHERE conversation_id = $1`,
    [state.patchConversation],
  );
  const { rows: turnRows } = await ctx.pg.query<{ n: number; revision: number }>(
    'SELECT message_number AS n, revision FROM turns WHERE conversation_id = $1 AND revision > 1',
    [state.patchConversation],
  );
  const byRequest = new Map<string, { n: number; revision: number }[]>();
  const byTurn = new Map<number, number[]>();
  for (const row of revisionRows) {
    byTurn.set(row.n, [...(byTurn.get(row.n) ?? []), row.revision]);
    if (row.revision === 1) {
      if (row.rid !== null) problem(`turn ${row.n}: revision 1 carries request ${row.rid}`);
      continue;
    }
    if (row.rid === null) {
      problem(`turn ${row.n} revision ${row.revision}: no engineRequestId`);
      continue;
    }
    byRequest.set(row.rid, [...(byRequest.get(row.rid) ?? []), row]);
  }
  const sentById = new Map(state.patches.map((p) => [p.id, p]));
  let appliedUnanswered = 0;
  for (const [rid, rows] of byRequest) {
    if (rows.length > 1)
      problem(
        `request ${rid} stored ${rows.length} times (revisions ${rows.map((r) => r.revision).join(', ')})`,
      );
    const sent = sentById.get(rid);
    if (!sent) {
      problem(`request ${rid} stored but never sent`);
      continue;
    }
    if (sent.status !== 200) {
      appliedUnanswered++;
      if (typeof sent.status === 'number' && sent.status < 500)
        problem(`request ${rid} stored although it was answered ${sent.status}`);
    }
  }
  const answeredPerTurn = new Map<number, number[]>();
  for (const p of answered) {
    answeredPerTurn.set(p.messageNumber, [
      ...(answeredPerTurn.get(p.messageNumber) ?? []),
      p.revision!,
    ]);
    if (p.mismatch) problem(`request ${p.id} was answered with ${p.mismatch}`);
    const stored = byRequest.get(p.id);
    if (!stored)
      problem(
        `LOST: request ${p.id} (turn ${p.messageNumber}, revision ${p.revision}) answered 200, not stored`,
      );
    else if (stored[0]!.n !== p.messageNumber || stored[0]!.revision !== p.revision)
      problem(
        `request ${p.id} answered turn ${p.messageNumber} revision ${p.revision}, stored as turn ${stored[0]!.n} revision ${stored[0]!.revision}`,
      );
  }
  for (const [n, revisions] of answeredPerTurn) {
    if (new Set(revisions).size !== revisions.length)
      problem(
        `turn ${n}: two PATCHes were answered with the same revision (${revisions.sort((a, b) => a - b).join(', ')})`,
      );
  }
  const rowRevision = new Map(turnRows.map((r) => [r.n, r.revision]));
  let maxRevision = 1;
  for (const [n, revisions] of byTurn) {
    const sorted = revisions.sort((a, b) => a - b);
    const top = sorted[sorted.length - 1]!;
    maxRevision = Math.max(maxRevision, top);
    if (sorted.some((r, i) => r !== i + 1))
      problem(`turn ${n}: revisions ${sorted.join(', ')} are not 1..${top}`);
    if (rowRevision.get(n) !== top)
      problem(`turn ${n}: its row says revision ${rowRevision.get(n) ?? 1}, the history ${top}`);
  }
  for (const [n, revision] of rowRevision) {
    if (!byTurn.has(n))
      problem(`turn ${n}: its row says revision ${revision} but it has no history`);
  }
  const { rows: stored } = await ctx.pg.query<{ n: number; distinct_numbers: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT (conversation_id, message_number))::int AS distinct_numbers
       FROM turns WHERE conversation_id = ANY($1)`,
    [allConversations],
  );
  const turnsStored = stored[0]!.n;
  if (turnsStored !== stored[0]!.distinct_numbers)
    problem(`turns stored twice: ${turnsStored} rows, ${stored[0]!.distinct_numbers} turns`);
  const unanswered = state.ingestUnanswered + state.singleUnanswered;
  if (turnsStored < acceptedTotal || turnsStored > acceptedTotal + unanswered)
    problem(
      `LOST or extra turns: ${turnsStored} stored, ${acceptedTotal} accepted (+${unanswered} unanswered)`,
    );
  return {
    answered: answered.length,
    appliedUnanswered,
    revisedTurns: byTurn.size,
    revisionRows: revisionRows.length,
    maxRevision,
    turnsStored,
    drainSeconds,
    problems,
  };
}

// --- report ---------------------------------------------------------------------------------

const statusText = (statuses: Record<string, number>, expected: number): string => {
  const other = Object.entries(statuses).filter(([status]) => status !== String(expected));
  return other.length === 0 ? 'none' : other.map(([s, n]) => `${n}× ${s}`).join(', ');
};

async function main(): Promise<void> {
  const run = planBenchRun('cleaning');
  log(`database ${run.databaseName}, Redis prefix ${run.redisPrefix}, load ${load()}`);
  await createBenchDatabase(run);
  const pg = new Client({ connectionString: run.databaseUrl });
  await pg.connect();
  const redis = new Redis(run.redisUrl);
  const env = benchEnvironment(run, { WORKERS_ENABLED: 'false' });
  const summary: SummaryRow[] = [];
  const sections: string[] = [];
  let failed = false;
  let integrityFailed = false;
  const stops: (() => Promise<void>)[] = [];
  try {
    const app = await startApp(env);
    stops.push(() => app.stop());
    const worker = await startWorker(env);
    stops.push(() => worker.stop());
    const token = await login(app.url, BENCH_ADMIN.username, BENCH_ADMIN.password);
    const { rows } = await pg.query<{ id: string }>('SELECT id FROM users WHERE username = $1', [
      BENCH_ADMIN.username,
    ]);
    const ctx: Context = {
      run,
      pg,
      redis,
      appUrl: app.url,
      appPid: app.child.pid,
      workerPid: worker.child.pid,
      token,
      adminId: rows[0]!.id,
      loads: [load()],
    };
    const client = new HttpClient(app.url, token, 4);

    if (ONLY.includes('p10')) {
      try {
        const { seeded, cells, seedSeconds } = await benchP10(ctx, client);
        const small = 0;
        const large = seeded.length - 1;
        let worstP95 = 0;
        let worstRatio = 0;
        let seqScans = 0;
        const table = FILTERS.map((c) => {
          const row = cells.get(c.name)!;
          const p95s = row.map((cell) => percentile(cell.samples, 95));
          worstP95 = Math.max(worstP95, p95s[large]!);
          worstRatio = Math.max(worstRatio, p95s[large]! / p95s[small]!);
          seqScans += row.filter((cell) => cell.plan.seqScan).length;
          return [
            c.name,
            ...row.map(
              (cell) =>
                `${percentile(cell.samples, 50).toFixed(1)} / ${percentile(cell.samples, 95).toFixed(1)} / ${percentile(cell.samples, 99).toFixed(1)}`,
            ),
            `${(p95s[large]! / p95s[small]!).toFixed(2)}×`,
            row.map((cell) => `${cell.plan.executionMs.toFixed(2)}`).join(' / '),
            fmt(row[large]!.matchesInConversation),
            row.some((cell) => cell.plan.seqScan)
              ? '**SEQ SCAN**'
              : [...new Set(row.flatMap((cell) => cell.plan.indexes))]
                  .map((i) => `\`${i}\``)
                  .join(', '),
          ];
        });
        const pass = worstP95 < P10_TARGET_MS && seqScans === 0;
        failed ||= !pass;
        summary.push({
          target: 'P10',
          workload: `turn-list filters through HTTP, page of ${P10_PAGE}, one conversation of ${fmt(seeded[large]!.size)} turns`,
          goal: `p95 < ${P10_TARGET_MS} ms, flat from 10k, no seq scan`,
          measured: `worst filter p95 ${ms(worstP95)}; ${seqScans} seq scans`,
          reference: `same filters at ${fmt(seeded[small]!.size)} turns`,
          ratio: `worst ${worstRatio.toFixed(2)}×`,
          pass,
        });
        sections.push(
          [
            `### P10 — turn-list filters through HTTP (${fmt(seeded[small]!.size)} vs ${fmt(seeded[large]!.size)} turns in one conversation)`,
            '',
            markdownTable(
              [
                'filter',
                ...seeded.map((s) => `${fmt(s.size)} turns p50 / p95 / p99 (ms)`),
                'p95 ratio',
                'in-PG ms (one EXPLAIN ANALYZE)',
                `matches in the ${fmt(seeded[large]!.size)}`,
                'index used (no seq scan)',
              ],
              table,
            ),
            '',
            `GET /conversations/:id/turns?<filter>&after=<random>&limit=${P10_PAGE}, ${P10_SAMPLES} pages per filter and`,
            'size after 20 warm-up pages, one request at a time over keep-alive HTTP on loopback, the two',
            'conversations alternating; each answer is checked against the filter. Turns seeded straight',
            `into the partitioned table with generate_series (${seedSeconds.toFixed(0)} s with VACUUM ANALYZE).`,
            `The EXPLAIN is of the exact statement TurnsRepository.listAfter sends (all columns, limit ${P10_PAGE + 1}),`,
            'at a cursor in the middle of the range the pages draw from.',
            `Target p95 < ${P10_TARGET_MS} ms at 1M, flat, no sequential scan: worst p95 ${ms(worstP95)}, ${seqScans} plans with a`,
            `sequential scan → **${pass ? 'PASS' : 'SHORT'}** (worst p95 ratio 1M / 10k ${worstRatio.toFixed(2)}×).`,
            '',
            '<details><summary>Plans at 1M</summary>',
            '',
            '```',
            ...FILTERS.map((c) => `${c.name}:\n${cells.get(c.name)![large]!.plan.text}\n`),
            '```',
            '',
            '</details>',
          ].join('\n'),
        );
      } catch (error) {
        failed = true;
        console.error(error);
        sections.push(
          `### P10 — the run failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }

    if (ONLY.includes('p11')) {
      try {
        const state = await setupP11(ctx, client);
        const phases: PhaseResult[] = [];
        for (let round = 1; round <= RUNS; round++) {
          const order: ('patch' | 'post')[] = round % 2 ? ['patch', 'post'] : ['post', 'patch'];
          for (const kind of order) {
            ctx.loads.push(load());
            const result = await phase(ctx, state, kind, round);
            phases.push(result);
            const m = result.measured;
            log(
              `P11 round ${round} ${kind === 'patch' ? 'PATCH      ' : 'single POST'}: sent ${fmt(m.sentRate)}/s, ` +
                `answered ${fmt(m.achievedRate)}/s, p50 ${ms(percentile(m.latencies, 50))} p99 ` +
                `${ms(percentile(m.latencies, 99))} max ${ms(Math.max(...m.latencies))}, others ${statusText(m.statuses, kind === 'patch' ? 200 : 202)}; ` +
                `ingest ${fmt(result.ingestedTurns / result.ingest.seconds)} turns/s (POST p99 ${ms(percentile(result.ingest.latencies, 99))}); ` +
                `CPU s API ${result.cpu.api.toFixed(1)} worker ${result.cpu.worker.toFixed(1)} (load ${load()})`,
            );
          }
        }
        const verification = await verifyP11(ctx, state);
        log(
          `P11 check: ${fmt(verification.answered)} PATCHes answered 200, ${verification.revisionRows} revision rows over ` +
            `${verification.revisedTurns} turns (up to revision ${verification.maxRevision}), ${verification.appliedUnanswered} applied ` +
            `without a 200, ${fmt(verification.turnsStored)} turns stored, drained in ${verification.drainSeconds.toFixed(1)} s; ` +
            `${verification.problems.length === 0 ? 'no problem' : `PROBLEMS:\n  ${verification.problems.join('\n  ')}`}`,
        );
        const of = (kind: 'patch' | 'post') => phases.filter((p) => p.kind === kind);
        const medianP99 = (kind: 'patch' | 'post') =>
          median(of(kind).map((p) => percentile(p.measured.latencies, 99)));
        const medianP50 = (kind: 'patch' | 'post') =>
          median(of(kind).map((p) => percentile(p.measured.latencies, 50)));
        const medianRate = (kind: 'patch' | 'post') =>
          median(of(kind).map((p) => p.measured.achievedRate));
        const medianIngest = (kind: 'patch' | 'post') =>
          median(of(kind).map((p) => p.ingestedTurns / p.ingest.seconds));
        const apiCpuPer = (kind: 'patch' | 'post') =>
          median(of(kind).map((p) => (p.cpu.api * 1000) / Math.max(1, p.measured.sent)));
        const patchP99 = medianP99('patch');
        const postP99 = medianP99('post');
        const rateKept =
          medianRate('patch') >= 0.95 * P11_RATE &&
          medianIngest('patch') >= 0.95 * P11_INGEST_TURNS;
        const intact = verification.problems.length === 0;
        const pass = patchP99 < P11_TARGET_MS && rateKept && intact;
        failed ||= !pass;
        integrityFailed ||= !intact;
        summary.push({
          target: 'P11',
          workload: `turn PATCH at ${fmt(P11_RATE)} req/s while ${fmt(P11_INGEST_TURNS)} turns/s are ingested`,
          goal: `p99 < ${P11_TARGET_MS} ms; every revision persisted once`,
          measured: `p99 ${ms(patchP99)} at ${fmt(medianRate('patch'))} req/s answered; ${intact ? `all ${fmt(verification.answered)} revisions stored once` : 'REVISIONS LOST OR DUPLICATED'}`,
          reference: `single-turn POST p99 ${ms(postP99)} at ${fmt(medianRate('post'))} req/s`,
          ratio: `${(patchP99 / postP99).toFixed(2)}×`,
          pass,
        });
        const row = (p: PhaseResult): string[] => {
          const m = p.measured;
          return [
            `${p.round}`,
            p.kind === 'patch' ? 'PATCH (revision)' : 'single-turn POST',
            `${fmt(m.sentRate)} / ${fmt(m.achievedRate)}`,
            percentile(m.latencies, 50).toFixed(1),
            percentile(m.latencies, 99).toFixed(1),
            Math.max(...m.latencies).toFixed(0),
            statusText(m.statuses, p.kind === 'patch' ? 200 : 202),
            `${fmt(p.ingestedTurns / p.ingest.seconds)} (p99 ${percentile(p.ingest.latencies, 99).toFixed(0)} ms)`,
            `${p.cpu.api.toFixed(1)} / ${p.cpu.worker.toFixed(1)}`,
            p.load,
          ];
        };
        sections.push(
          [
            `### P11 — PATCH at ${fmt(P11_RATE)} req/s while ${fmt(P11_INGEST_TURNS)} turns/s are ingested (${RUNS} rounds of ${P11_SECONDS} s per phase)`,
            '',
            markdownTable(
              [
                'round',
                'measured stream',
                'req/s sent / answered',
                'p50 ms',
                'p99 ms',
                'max ms',
                'other answers',
                'ingest turns/s accepted (POST of 20 p99)',
                'CPU s API / worker',
                'load at start',
              ],
              phases.map(row),
            ),
            '',
            `Medians: PATCH p50 ${ms(medianP50('patch'))}, **p99 ${ms(patchP99)}** at ${fmt(medianRate('patch'))} req/s answered`,
            `(ingest alongside ${fmt(medianIngest('patch'))} turns/s); single-turn POST p50 ${ms(medianP50('post'))}, p99 ${ms(postP99)} at`,
            `${fmt(medianRate('post'))} req/s (ingest ${fmt(medianIngest('post'))} turns/s): PATCH/POST p99 ${(patchP99 / postP99).toFixed(2)}×.`,
            `API CPU per measured request (whole API process during the phase ÷ requests, so ingest is included`,
            `in both): PATCH phases ${apiCpuPer('patch').toFixed(2)} ms, POST phases ${apiCpuPer('post').toFixed(2)} ms.`,
            `Target p99 < ${P11_TARGET_MS} ms with the offered rates kept and every revision stored once → **${pass ? 'PASS' : 'SHORT'}**` +
              `${rateKept ? '' : ' (the offered rates were not kept: see the answered rates)'}.`,
            '',
            `Revisions: ${fmt(verification.answered)} PATCHes answered 200, ${fmt(verification.revisionRows)} rows in turn_revisions`,
            `over ${fmt(verification.revisedTurns)} turns (revision 1 of each plus one per PATCH; up to revision ${verification.maxRevision}),`,
            `${verification.appliedUnanswered} applied without a 200 answer, ${fmt(verification.turnsStored)} turns stored; the worker drained`,
            `${verification.drainSeconds.toFixed(1)} s after the last phase. ${intact ? '**Every revision persisted exactly once**' : `**PROBLEMS**: ${verification.problems.join('; ')}`}`,
            '(each PATCH carries a unique engineRequestId; its row must exist once with the revision its',
            "200 named, each turn's revisions are 1..n with its row at n; the bench exits 2 otherwise).",
            '',
            'Load: open loop, paced every millisecond (bench/support/paced.ts); latency counts from each',
            "request's scheduled send time, so queueing in the server or in the load generator shows.",
            `Half the PATCHes revise one of ${fmt(P11_PRESEEDED)} turns persisted before the run (round robin, each`,
            `revised every ~${((2 * P11_PRESEEDED) / P11_RATE).toFixed(0)} s); the other half are the engine's result for a turn just`,
            'ingested into the same conversation (buffered or just flushed), each such turn once, oldest first,',
            `while there are any (${fmt(state.freshPatches)} of ${fmt(state.patches.length)} PATCHes were of such turns). The ingest`,
            `is ${fmt(P11_INGEST_TURNS / P11_INGEST_BATCH)} POSTs/s of ${P11_INGEST_BATCH} turns over ${P11_INGEST_CONVERSATIONS} conversations, one of them the PATCHed one.`,
            'The single-turn POST phases post one new turn per request into a fresh conversation under',
            'the same ingest; phases alternate (PATCH first in odd rounds).',
          ].join('\n'),
        );
      } catch (error) {
        failed = true;
        console.error(error);
        sections.push(
          `### P11 — the run failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    client.close();

    if (!TAMPER) {
      await writeSection(
        'Cleaning (P10, P11)',
        [
          `Command: \`npm run bench:cleaning\` (BENCH_RUNS=${RUNS}, BENCH_P11_SECONDS=${P11_SECONDS}, BENCH_P10_LEVELS=${P10_LEVELS.join(',')},`,
          `BENCH_P10_SAMPLES=${P10_SAMPLES}${process.env.BENCH_ONLY ? `, BENCH_ONLY=${process.env.BENCH_ONLY}` : ''}). Run ${new Date().toISOString()}, Node ${process.version},`,
          '2 cores **shared with other helpers running tests and benchmarks** (the tails are noisy), Postgres and',
          'Redis on loopback. API and a worker process as production runs them (createApp / WorkerModule,',
          `LOG_LEVEL ${process.env.BENCH_LOG_LEVEL ?? 'info'} to /dev/null, rate limit raised); the load comes from the bench process.`,
          `Load average (1/5/15 min) at each step: ${ctx.loads.join('; ')}; at the end ${load()}.`,
          '',
          ...sections.flatMap((s) => [s, '']),
        ].join('\n'),
      );
    }
    await reportSummary(summary);
    console.log(
      markdownTable(
        ['target', 'measured', 'reference', 'ratio', 'verdict'],
        summary.map((s) => [s.target, s.measured, s.reference, s.ratio, s.pass ? 'PASS' : 'SHORT']),
      ),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await pg.end();
    await redis.quit();
    await destroyBenchRun(run);
  }
  if (integrityFailed) {
    console.error('\n*** P11: REVISIONS OR TURNS WERE LOST OR DUPLICATED (see above) ***\n');
    process.exitCode = 2;
  } else if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
