import { EXACT_COUNT_LIMIT, RANKED_CANDIDATES } from '../../src/cases/cases.repository';
import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';

interface CasePage {
  data: { id: string; title: string }[];
  meta: { page: number; limit: number; total: number; totalIsEstimate?: true };
}

let counter = 0;
/** A word no other test uses: letters only, so the english stemmer keeps it whole. */
function uniqueWord(): string {
  counter += 1;
  const letters = (n: number) =>
    n
      .toString(26)
      .split('')
      .map((d) => String.fromCharCode(97 + parseInt(d, 26)))
      .join('');
  return `zk${letters(Date.now())}x${letters(process.pid)}x${letters(counter)}`;
}

/**
 * GET /cases?q= when a word matches more cases than are counted or ranked (README,
 * "Search"): the total becomes a flagged estimate, relevance ranks the newest candidates,
 * and paging still reaches every match exactly once.
 */
describe('Case search over many matches (TARGETS P5)', () => {
  let t: TestApp;
  let admin: Session;
  let supervisor: Session;
  let worker: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    supervisor = await userSession(t.http, admin, 'supervisor');
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  const list = async (session: Session, query: Record<string, string | number>) =>
    (await t.http.get('/api/v1/cases').query(query).set(session.auth).expect(200)).body as CasePage;

  /**
   * `count` cases in one statement (the triggers build their vectors), newest first by
   * number: case 1 is `minutesAgo` old, each next one a minute older. Returns ids in order.
   */
  const bulkCases = async (
    count: number,
    text: { title: string; description: string },
    minutesAgo: number,
    participant?: string,
  ): Promise<string[]> => {
    const tag = uniqueWord().toUpperCase();
    const rows = await t.db.query<{ id: string }[]>(
      `INSERT INTO cases (case_code, title, description, status, priority, created_by, created_at)
       SELECT $1 || '-' || g, $2, $3, 'active', 'medium', $4,
              now() - (($5 + g) || ' minutes')::interval
         FROM generate_series(1, $6::int) g
       RETURNING id`,
      [tag, text.title, text.description, admin.userId, minutesAgo, count],
    );
    const ids = rows.map((r) => r.id);
    if (participant) {
      await t.db.query(
        `INSERT INTO case_participants (case_id, user_id, role) SELECT unnest($1::uuid[]), $2, 'lead'`,
        [ids, participant],
      );
    }
    return ids;
  };

  it('counts exactly up to the limit, then reports a flagged estimate', async () => {
    const word = uniqueWord();
    await bulkCases(EXACT_COUNT_LIMIT, { title: 'Bulk', description: `about ${word}` }, 0);
    const atLimit = await list(supervisor, { q: word });
    expect(atLimit.meta).toEqual({ page: 1, limit: 20, total: EXACT_COUNT_LIMIT });

    await bulkCases(500, { title: 'Bulk', description: `about ${word}` }, 2000);
    await t.db.query('ANALYZE cases');
    const past = await list(supervisor, { q: word });
    expect(past.data).toHaveLength(20);
    expect(past.meta.totalIsEstimate).toBe(true);
    expect(past.meta.total).toBeGreaterThan(EXACT_COUNT_LIMIT);
    expect(past.meta.total).toBeLessThan(100 * (EXACT_COUNT_LIMIT + 500));

    // A broad filter without q is capped the same way; a narrow one stays exact.
    const all = await list(supervisor, { status: 'active' });
    expect(all.meta.totalIsEstimate).toBe(true);
    expect(all.meta.total).toBeGreaterThan(EXACT_COUNT_LIMIT);
    const mine = await list(worker, {});
    expect(mine.meta).toEqual({ page: 1, limit: 20, total: 0 });
  });

  it('ranks better matches first, and pages reach every match once, in tiers', async () => {
    const word = uniqueWord();
    // Newest first: a transcript-only match, a title match, a description match, then
    // RANKED_CANDIDATES + 150 description matches (old enough to fill the candidate set),
    // and one more title match older than all of them.
    const [transcriptOnly] = await bulkCases(
      1,
      { title: 'Quiet', description: 'nothing' },
      0,
      worker.userId,
    );
    await t.db.query(
      `UPDATE cases SET transcripts_search = to_tsvector('english', $2) WHERE id = $1`,
      [transcriptOnly, word],
    );
    const [inTitle] = await bulkCases(
      1,
      { title: `The ${word}`, description: 'x' },
      1,
      worker.userId,
    );
    const [inDescription] = await bulkCases(
      1,
      { title: 'Plain', description: `one ${word}` },
      2,
      worker.userId,
    );
    const bulk = await bulkCases(
      RANKED_CANDIDATES + 150,
      { title: 'Plain', description: `some ${word}` },
      3,
      worker.userId,
    );
    const [oldTitle] = await bulkCases(
      1,
      { title: `Old ${word}`, description: 'x' },
      5000,
      worker.userId,
    );
    await t.db.query('ANALYZE cases');

    const first = await list(worker, { q: word, limit: 5 });
    // Within the candidates, a title match outranks description matches (weight A over
    // B) although it is not the newest; the transcript-only match has rank 0.
    expect(first.data[0]!.id).toBe(inTitle);
    expect(first.data.map((c) => c.id)).toContain(inDescription);
    expect(first.data.map((c) => c.id)).not.toContain(transcriptOnly);

    const seen: string[] = [];
    for (let page = 1; ; page += 1) {
      const { data } = await list(worker, { q: word, limit: 100, page });
      if (data.length === 0) break;
      seen.push(...data.map((c) => c.id));
    }
    const all = [transcriptOnly!, inTitle!, inDescription!, ...bulk, oldTitle!];
    expect(all.length).toBeLessThanOrEqual(EXACT_COUNT_LIMIT);
    expect(first.meta).toEqual({ page: 1, limit: 5, total: all.length });
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen)).toEqual(new Set(all));
    // Own-text matches past the candidate set follow, newest first; the transcript-only
    // match comes last.
    expect(seen.slice(RANKED_CANDIDATES)).toEqual([
      ...bulk.slice(RANKED_CANDIDATES - 2),
      oldTitle,
      transcriptOnly,
    ]);
  });

  it('matches a phrase in case text only (transcript lexemes carry no positions)', async () => {
    const [a, b] = [uniqueWord(), uniqueWord()];
    const [own] = await bulkCases(1, { title: 'Plain', description: `${a} ${b}` }, 0);
    const [transcript] = await bulkCases(1, { title: 'Quiet', description: 'nothing' }, 1);
    await t.db.query(
      `UPDATE cases SET transcripts_search = to_tsvector('english', $2) WHERE id = $1`,
      [transcript, `${a} ${b}`],
    );
    const phrase = await list(supervisor, { q: `"${a} ${b}"` });
    expect(phrase.data.map((c) => c.id)).toEqual([own]);
    expect(phrase.meta.total).toBe(1);
    const words = await list(supervisor, { q: `${a} ${b}` });
    expect(words.data.map((c) => c.id)).toEqual([own, transcript]);
    expect(words.meta.total).toBe(2);
  });

  it('GET /search ranks a bounded set per type and estimates a large total', async () => {
    const word = uniqueWord();
    // Inserted first, so within the candidates the index yields first (storage order).
    const [inTitle] = await bulkCases(1, { title: `About ${word}`, description: 'x' }, 0);
    await bulkCases(EXACT_COUNT_LIMIT + 100, { title: 'Bulk', description: `some ${word}` }, 1);
    await t.db.query('ANALYZE cases');
    const response = await t.http
      .get('/api/v1/search')
      .query({ q: word, type: 'cases' })
      .set(supervisor.auth)
      .expect(200);
    const page = response.body as {
      data: { id: string; rank: number }[];
      meta: CasePage['meta'];
    };
    expect(page.data).toHaveLength(20);
    expect(page.data[0]!.id).toBe(inTitle);
    expect(page.data[0]!.rank).toBeGreaterThan(page.data[1]!.rank);
    expect(page.meta.totalIsEstimate).toBe(true);
    expect(page.meta.total).toBeGreaterThan(EXACT_COUNT_LIMIT);
  });

  it('keeps an exact count and full ranking for a small set', async () => {
    const word = uniqueWord();
    const [description] = await bulkCases(1, { title: 'Plain', description: `a ${word}` }, 0);
    const [twice] = await bulkCases(1, { title: 'Plain', description: `${word} and ${word}` }, 1);
    const [title] = await bulkCases(1, { title: `${word}`, description: 'x' }, 2);
    const found = await list(supervisor, { q: word });
    expect(found.data.map((c) => c.id)).toEqual([title, twice, description]);
    expect(found.meta).toEqual({ page: 1, limit: 20, total: 3 });
  });
});
