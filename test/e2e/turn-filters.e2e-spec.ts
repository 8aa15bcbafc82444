import { TurnPersistenceService } from '../../src/conversations/turns/turn-persistence.service';
import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { createConversation, turn } from '../support/turns';

/**
 * Filters on `GET /conversations/:id/turns` (SPEC section 10): AND-combined, the cursor
 * still works, buffered turns and not-yet-persisted revisions included; each filter is
 * served by an index of the partitioned table (TARGETS P10).
 *
 * Workers are off: the test persists the first turns, leaves the rest buffered, and
 * leaves one revision buffered, then pages through every filter with a small limit and
 * compares with what the turns say.
 */
interface Posted {
  messageNumber: number;
  speaker: string;
  businessDomain: string | null;
  contextDetected: string | null;
  confidence: number;
  cleaningLevel: string;
  cleaningApplied: boolean;
  transcriptionErrorDetected: boolean;
  spokenAt: string;
}

const TURNS = 40;
const PERSISTED = 24;
const START = Date.parse('2026-06-01T10:00:00.000Z');

function generated(n: number): Posted {
  return {
    messageNumber: n,
    speaker: `Speaker_${n % 3}`,
    businessDomain: [null, 'legal', 'finance'][n % 3 === 0 ? 0 : (n % 5) % 2 === 0 ? 1 : 2]!,
    contextDetected: n % 4 === 0 ? 'hearing' : null,
    confidence: [0.95, 0.7, 0.3, 0.85, 0.6][n % 5]!,
    cleaningLevel: ['none', 'light', 'full'][n % 3]!,
    cleaningApplied: n % 2 === 0,
    transcriptionErrorDetected: n % 7 === 0,
    spokenAt: new Date(START + n * 1000).toISOString(),
  };
}

const levelOf = (c: number) => (c >= 0.85 ? 'HIGH' : c >= 0.6 ? 'MEDIUM' : 'LOW');

describe('Turn list filters (SPEC section 10)', () => {
  let t: TestApp;
  let worker: Session;
  let conversationId: string;
  /** The turns as they now are, including the buffered revision of turn 5. */
  const turns = new Map<number, Posted>();

  beforeAll(async () => {
    t = await startApp({
      WORKERS_ENABLED: 'false',
      // Its own buffer stream: another spec's in-process workers must not drain this one's.
      REDIS_PREFIX: `${process.env.REDIS_PREFIX ?? 'vbt'}-filters-${Date.now().toString(36)}`,
    });
    const admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
    conversationId = (await createConversation(t.http, worker)).id;
    const post = (numbers: number[]) =>
      t.http
        .post(`/api/v1/conversations/${conversationId}/turns`)
        .set(worker.auth)
        .send({
          turns: numbers.map((n) => {
            const g = generated(n);
            turns.set(n, g);
            return turn(n, {
              ...g,
              businessDomain: g.businessDomain ?? undefined,
              contextDetected: g.contextDetected ?? undefined,
            });
          }),
        })
        .expect(202);
    const numbers = Array.from({ length: TURNS }, (_, i) => i + 1);
    await post(numbers.slice(0, PERSISTED));
    await t.app.get(TurnPersistenceService).drain(10_000);
    await post(numbers.slice(PERSISTED));
    // A persisted turn and a buffered one changed by revisions that stay buffered.
    for (const [n, change] of [
      [5, { businessDomain: 'medical', cleaningLevel: 'full', transcriptionErrorDetected: true }],
      [30, { businessDomain: 'medical', cleaningApplied: true }],
    ] as const) {
      await t.http
        .patch(`/api/v1/conversations/${conversationId}/turns/${n}`)
        .set(worker.auth)
        .send(change)
        .expect(200);
      turns.set(n, { ...turns.get(n)!, ...change });
    }
  });
  afterAll(() => t.close());

  /** Every page of a filtered list, following nextCursor. */
  async function all(query: Record<string, string>, limit = 4): Promise<number[]> {
    const numbers: number[] = [];
    let after: string | null = '0';
    for (let pages = 0; after !== null && pages < 100; pages++) {
      const response = await t.http
        .get(`/api/v1/conversations/${conversationId}/turns`)
        .query({ ...query, limit: String(limit), after })
        .set(worker.auth)
        .expect(200);
      const body = response.body as { data: Posted[]; meta: { nextCursor: string | null } };
      numbers.push(...body.data.map((d) => d.messageNumber));
      after = body.meta.nextCursor;
    }
    return numbers;
  }

  const expected = (predicate: (p: Posted) => boolean) =>
    [...turns.values()].filter(predicate).map((p) => p.messageNumber);

  it.each<[string, Record<string, string>, (p: Posted) => boolean]>([
    ['speaker', { speaker: 'Speaker_1' }, (p) => p.speaker === 'Speaker_1'],
    ['businessDomain', { businessDomain: 'legal' }, (p) => p.businessDomain === 'legal'],
    [
      'businessDomain set by a buffered revision',
      { businessDomain: 'medical' },
      (p) => p.businessDomain === 'medical',
    ],
    ['contextDetected', { contextDetected: 'hearing' }, (p) => p.contextDetected === 'hearing'],
    ['confidenceLevel HIGH', { confidenceLevel: 'HIGH' }, (p) => levelOf(p.confidence) === 'HIGH'],
    [
      'confidenceLevel MEDIUM',
      { confidenceLevel: 'MEDIUM' },
      (p) => levelOf(p.confidence) === 'MEDIUM',
    ],
    ['confidenceLevel LOW', { confidenceLevel: 'LOW' }, (p) => levelOf(p.confidence) === 'LOW'],
    ['cleaningLevel', { cleaningLevel: 'full' }, (p) => p.cleaningLevel === 'full'],
    ['cleaned=true', { cleaned: 'true' }, (p) => p.cleaningApplied],
    ['cleaned=false', { cleaned: 'false' }, (p) => !p.cleaningApplied],
    ['errors=true', { errors: 'true' }, (p) => p.transcriptionErrorDetected],
    [
      'from/to (from inclusive, to exclusive)',
      { from: new Date(START + 10_000).toISOString(), to: new Date(START + 31_000).toISOString() },
      (p) => p.messageNumber >= 10 && p.messageNumber < 31,
    ],
    [
      'several at once',
      { speaker: 'Speaker_2', cleaned: 'false', from: new Date(START + 3000).toISOString() },
      (p) => p.speaker === 'Speaker_2' && !p.cleaningApplied && p.messageNumber >= 3,
    ],
    [
      'several at once, across the buffer',
      { confidenceLevel: 'HIGH', businessDomain: 'finance' },
      (p) => levelOf(p.confidence) === 'HIGH' && p.businessDomain === 'finance',
    ],
  ])(
    '%s: every matching turn, persisted or buffered, once, in order, page by page',
    async (_, query, predicate) => {
      const want = expected(predicate);
      expect(want.length).toBeGreaterThan(0);
      expect(await all(query)).toEqual(want);
      expect(await all(query, 100)).toEqual(want);
    },
  );

  it('a turn a buffered revision took out of a filter is not listed under it', async () => {
    // Turn 5 was `legal` as posted and persisted; its buffered revision made it `medical`.
    expect(generated(5).businessDomain).toBe('legal');
    expect(await all({ businessDomain: 'legal' })).not.toContain(5);
    expect(await all({ cleaningLevel: 'full' })).toContain(5);
  });

  it('answers an empty page with no cursor when nothing matches', async () => {
    const response = await t.http
      .get(`/api/v1/conversations/${conversationId}/turns`)
      .query({ speaker: 'Nobody' })
      .set(worker.auth)
      .expect(200);
    expect(response.body).toEqual({ data: [], meta: { nextCursor: null } });
  });

  it.each([
    ['confidenceLevel', 'high'],
    ['cleaningLevel', 'heavy'],
    ['cleaned', 'yes'],
    ['errors', '1'],
    ['from', 'yesterday'],
    ['to', '2026-13-01T00:00:00Z'],
    ['speaker', 'x'.repeat(101)],
    ['businessDomain', ''],
  ])('400 for %s=%s', async (key, value) => {
    const response = await t.http
      .get(`/api/v1/conversations/${conversationId}/turns`)
      .query({ [key]: value })
      .set(worker.auth);
    const errors = expectProblem(response, 400).errors ?? [];
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.field === key)).toBe(true);
  });

  describe("P10: a rare filter value is an index range scan of the conversation's partition", () => {
    const LARGE = 20_000;
    let large: { id: string; month: string };

    beforeAll(async () => {
      // A conversation of 20,000 turns written straight into its partition, where each
      // filtered value is rare (1 in 1,000): walking messageNumber order would read the
      // whole conversation for a page, so only the filter's own index is fast.
      const { id } = await createConversation(t.http, worker);
      const [row] = await t.db.query<{ month: string }[]>(
        `SELECT partition_month::text AS month FROM conversations WHERE id = $1`,
        [id],
      );
      large = { id, month: row!.month };
      await t.db.query(
        `INSERT INTO turns (partition_month, conversation_id, message_number, speaker, raw_text,
                            spoken_at, confidence, business_domain, context_detected,
                            transcription_error_detected, received_at, persisted_at)
         SELECT $2::date, $1, n, CASE WHEN n % 1000 = 7 THEN 'Rare' ELSE 'Speaker_' || (n % 2) END,
                'turn ' || n, now(), CASE WHEN n % 1000 = 7 THEN 0.1 ELSE 0.9 END,
                CASE WHEN n % 1000 = 7 THEN 'rare' ELSE 'legal' END,
                CASE WHEN n % 1000 = 7 THEN 'rare' ELSE 'hearing' END,
                n % 1000 = 7, now(), now()
           FROM generate_series(1, $3::int) AS n`,
        [id, large.month, LARGE],
      );
      await t.db.query(`ANALYZE turns`);
    });

    it.each([
      ['speaker', `t.speaker = 'Rare'`, 'turns_conversation_speaker_idx'],
      ['businessDomain', `t.business_domain = 'rare'`, 'turns_conversation_domain_idx'],
      ['contextDetected', `t.context_detected = 'rare'`, 'turns_conversation_context_idx'],
      [
        'confidenceLevel',
        `(CASE WHEN confidence >= 0.85 THEN 'HIGH' WHEN confidence >= 0.6 THEN 'MEDIUM' ELSE 'LOW' END) = 'LOW'`,
        'turns_conversation_level_idx',
      ],
      ['errors', 't.transcription_error_detected', 'turns_conversation_errors_idx'],
    ])('%s', async (_, condition, index) => {
      const rows = await t.db.query<{ 'QUERY PLAN': string }[]>(
        `EXPLAIN ANALYZE SELECT t.message_number FROM turns t
          WHERE t.conversation_id = '${large.id}' AND t.partition_month = '${large.month}'
            AND t.message_number > 0 AND ${condition}
          ORDER BY t.message_number LIMIT 101`,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      // Each partition has its own copy of the parent's index, named after its columns.
      const copies = await t.db.query<{ name: string }[]>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass`,
        [index],
      );
      if (!copies.some(({ name }) => plan.includes(` ${name} `))) throw new Error(plan);
      expect(plan).not.toMatch(/Seq Scan/);
      // The planner may fetch the matches by bitmap and sort them (cheap for a rare value);
      // what must never happen is a sort of the conversation: only the 20 matches are sorted.
      for (const line of plan.split('\n').filter((l) => /Sort {2}\(/.test(l))) {
        expect(line).toMatch(/actual time=\S+ rows=20 loops=1/);
      }
      expect(plan).toMatch(/rows=20 loops=1/);
    });

    it('pages through the large conversation by a rare filter through the API', async () => {
      const response = await t.http
        .get(`/api/v1/conversations/${large.id}/turns`)
        .query({ errors: 'true', limit: '100' })
        .set(worker.auth)
        .expect(200);
      const body = response.body as { data: Posted[]; meta: { nextCursor: string | null } };
      expect(body.data.map((d) => d.messageNumber)).toEqual(
        Array.from({ length: LARGE / 1000 }, (_, i) => i * 1000 + 7),
      );
      expect(body.meta.nextCursor).toBeNull();
    });
  });
});
