import { loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { startAudioApp, waitForJob } from '../support/audio';
import { caseWithAudio, postTranscription, TranscriptionBody } from '../support/transcriptions';
import { createConversation, eventually, turn } from '../support/turns';

interface Hit {
  type: 'case' | 'transcription' | 'note' | 'turn';
  id: string;
  caseId: string | null;
  audioFileId: string | null;
  conversationId: string | null;
  title: string;
  snippet: string;
  rank: number;
  createdAt: string;
}
interface SearchPage {
  data: Hit[];
  meta: { page: number; limit: number; total: number };
}

let counter = 0;
/** A word no other test (or run) uses: letters only, so no stemmer changes it. */
function uniqueWord(): string {
  counter += 1;
  const letters = (n: number) =>
    n
      .toString(26)
      .split('')
      .map((d) => String.fromCharCode(97 + parseInt(d, 26)))
      .join('');
  return `zq${letters(Date.now())}x${letters(process.pid)}x${letters(counter)}`;
}

describe('Search (SPEC section 5, TARGETS P5 and S7)', () => {
  let t: TestApp;
  let admin: Session;
  let workerA: Session;
  let workerB: Session;
  let supervisor: Session;
  let processor: Session;

  beforeAll(async () => {
    t = await startAudioApp('search');
    admin = await loginAsAdmin(t.http);
    workerA = await userSession(t.http, admin, 'case_worker');
    workerB = await userSession(t.http, admin, 'case_worker');
    supervisor = await userSession(t.http, admin, 'supervisor');
    processor = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  const search = async (session: Session, query: Record<string, string | number>) => {
    const response = await t.http.get('/api/v1/search').query(query).set(session.auth);
    if (response.status !== 200) throw new Error(`${response.status}: ${response.text}`);
    return response.body as SearchPage;
  };

  const transcribe = async (audioId: string, text: string, extra: Record<string, unknown> = {}) =>
    (
      await postTranscription(t.http, processor.auth, audioId, {
        segments: [{ start: 0, end: 0.5, speaker: 'Speaker_0', text, confidence: 0.9 }],
        ...extra,
      }).expect(201)
    ).body as TranscriptionBody;

  it('ranks transcripts and never shows another case’s text in results, counts or snippets', async () => {
    const word = uniqueWord();
    const a = await caseWithAudio(t, workerA.auth);
    const often = await transcribe(
      a.audioId,
      `${word} ${word} ${word} was seen near the warehouse`,
    );
    const a2 = await caseWithAudio(t, workerA.auth, { caseId: a.caseId });
    const once = await transcribe(
      a2.audioId,
      `Long statement about many other things and then ${word} once`,
    );
    const b = await caseWithAudio(t, workerB.auth);
    const hidden = await transcribe(b.audioId, `secret ${word} testimony with confidentialmarker`);

    const mine = await search(workerA, { q: word, type: 'transcriptions' });
    expect(mine.data.map((h) => h.id)).toEqual([often.id, once.id]);
    expect(mine.meta).toEqual({ page: 1, limit: 20, total: 2 });
    expect(mine.data[0]).toMatchObject({
      type: 'transcription',
      caseId: a.caseId,
      audioFileId: a.audioId,
      title: 'audio.wav',
    });
    expect(mine.data[0]!.snippet).toContain(`<mark>${word}</mark>`);
    expect(mine.data[0]!.rank).toBeGreaterThan(mine.data[1]!.rank);
    const everything = JSON.stringify(await search(workerA, { q: `${word} confidentialmarker` }));
    expect(everything).not.toContain('confidentialmarker');
    expect(everything).not.toContain(hidden.id);
    expect(everything).not.toContain(b.caseId);
    expect((await search(workerA, { q: 'confidentialmarker' })).meta.total).toBe(0);

    const all = await search(supervisor, { q: word, type: 'transcriptions' });
    expect(all.data.map((h) => h.id).sort()).toEqual([often.id, once.id, hidden.id].sort());
    const asProcessor = await search(processor, { q: 'confidentialmarker' });
    expect(asProcessor.data.map((h) => h.id)).toEqual([hidden.id]);
    expect(asProcessor.data[0]!.snippet).toBe(
      `secret ${word} testimony with <mark>confidentialmarker</mark>`,
    );
  });

  it('searches cases, notes, transcriptions and turns, each filtered to what the caller may see', async () => {
    const word = uniqueWord();
    const a = await caseWithAudio(t, workerA.auth);
    await t.http
      .patch(`/api/v1/cases/${a.caseId}`)
      .set(workerA.auth)
      .send({ title: `Burglary ${word}`, description: 'Back door forced.' })
      .expect(200);
    const note = await t.http
      .post(`/api/v1/cases/${a.caseId}/notes`)
      .set(workerA.auth)
      .send({ body: `Neighbour called about ${word} again` })
      .expect(201);
    const transcript = await transcribe(a.audioId, `The witness said ${word} twice`);
    const unlinked = await createConversation(t.http, workerB);
    const conversation = await createConversation(t.http, workerA, { caseId: a.caseId });
    await t.http
      .post(`/api/v1/conversations/${conversation.id}/turns`)
      .set(workerA.auth)
      .send({ turns: [turn(1, { rawText: `Judge: ${word} is admitted` })] })
      .expect(202);
    await t.http
      .post(`/api/v1/conversations/${unlinked.id}/turns`)
      .set(workerB.auth)
      .send({ turns: [turn(1, { rawText: `private ${word} remark` })] })
      .expect(202);
    const found = await eventually(
      () => search(workerA, { q: word }),
      (page) => page.data.some((h) => h.type === 'turn'),
    );
    expect(found.data.map((h) => [h.type, h.id]).sort()).toEqual(
      [
        ['case', a.caseId],
        ['note', (note.body as { id: string }).id],
        ['transcription', transcript.id],
        ['turn', expect.any(String)],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    const turnHit = found.data.find((h) => h.type === 'turn')!;
    expect(turnHit).toMatchObject({ conversationId: conversation.id, caseId: a.caseId });
    expect(turnHit.snippet).toContain(`<mark>${word}</mark>`);
    expect(found.data.find((h) => h.type === 'case')).toMatchObject({
      title: `Burglary ${word}`,
      snippet: `Burglary <mark>${word}</mark> Back door forced`,
    });

    const theirs = await eventually(
      () => search(workerB, { q: word }),
      (page) => page.meta.total > 0,
    );
    expect(theirs.data.map((h) => [h.type, h.conversationId])).toEqual([['turn', unlinked.id]]);
    expect((await search(workerA, { q: word, type: 'notes' })).data.map((h) => h.type)).toEqual([
      'note',
    ]);
    expect(
      (await search(workerA, { q: word, type: 'cases,turns' })).data.map((h) => h.type).sort(),
    ).toEqual(['case', 'turn']);

    const page1 = await search(workerA, { q: word, limit: 2 });
    const page2 = await search(workerA, { q: word, limit: 2, page: 2 });
    expect(page1.meta.total).toBe(4);
    expect(page2.meta).toEqual({ page: 2, limit: 2, total: 4 });
    expect(new Set([...page1.data, ...page2.data].map((h) => h.id)).size).toBe(4);
    expect(await search(workerA, { q: word, limit: 2, page: 3 })).toEqual({
      data: [],
      meta: { page: 3, limit: 2, total: 4 },
    });

    // A processor reads transcriptions and turns, not cases or notes.
    const machine = await search(processor, { q: word });
    expect(new Set(machine.data.map((h) => h.type))).toEqual(new Set(['transcription', 'turn']));
    const refused = await t.http
      .get('/api/v1/search')
      .query({ q: word, type: 'cases' })
      .set(processor.auth);
    expect(refused.status).toBe(403);
  });

  it('uses each transcript’s language for stemming, and simple when the language is unknown', async () => {
    const word = uniqueWord();
    const de = await caseWithAudio(t, workerA.auth, { language: 'de' });
    const german = await transcribe(de.audioId, `Die Häuser brannten ${word}`);
    const en = await caseWithAudio(t, workerA.auth, { language: 'en' });
    const english = await transcribe(en.audioId, `The officers were running ${word}`);
    const und = await caseWithAudio(t, workerA.auth);
    const unknown = await transcribe(und.audioId, `Running Häuser ${word}`);

    const ids = async (q: string) =>
      (await search(workerA, { q, type: 'transcriptions' })).data.map((h) => h.id).sort();
    expect(await ids(`Haus ${word}`)).toEqual([german.id]);
    expect(await ids(`run ${word}`)).toEqual([english.id]);
    expect(await ids(`running ${word}`)).toEqual([english.id, unknown.id].sort());
    expect(await ids(`häuser ${word}`)).toEqual([german.id, unknown.id].sort());
  });

  it('searches only the latest version of each transcript', async () => {
    const word = uniqueWord();
    const { audioId } = await caseWithAudio(t, workerA.auth);
    await transcribe(audioId, `first draft ${word}old`);
    const v2 = await transcribe(audioId, `second draft ${word}new`);
    expect((await search(workerA, { q: `${word}old` })).meta.total).toBe(0);
    expect((await search(workerA, { q: `${word}new`, type: 'transcriptions' })).data).toEqual([
      expect.objectContaining({ id: v2.id }),
    ]);
  });

  it('finds a case by its transcripts in GET /cases?q=, until the audio is deleted', async () => {
    const word = uniqueWord();
    const { caseId, audioId } = await caseWithAudio(t, workerA.auth);
    await transcribe(audioId, `Statement mentions ${word} only here`);
    const cases = async (session: Session): Promise<string[]> => {
      const response = await t.http.get('/api/v1/cases').query({ q: word }).set(session.auth);
      return (response.body as { data: { id: string }[] }).data.map((c) => c.id);
    };
    expect(await cases(workerA)).toEqual([caseId]);
    expect(await cases(workerB)).toEqual([]);

    const deleted = await t.http
      .delete(`/api/v1/audio/${audioId}`)
      .set(supervisor.auth)
      .expect(202);
    const job = await waitForJob(t.http, supervisor.auth, deleted.body.jobId as string);
    expect(job.state).toBe('completed');
    expect(await cases(workerA)).toEqual([]);
    expect((await search(supervisor, { q: word })).meta.total).toBe(0);
  });

  it('escapes snippets: stored text never becomes markup', async () => {
    const word = uniqueWord();
    const { audioId } = await caseWithAudio(t, workerA.auth);
    await transcribe(audioId, `Fish & chips "quoted" <script>alert(1)</script> ${word} \uE000x`);
    const [hit] = (await search(workerA, { q: word, type: 'transcriptions' })).data;
    expect(hit!.snippet).not.toMatch(/<(?!\/?mark>)/);
    expect(hit!.snippet).toContain('Fish &amp; chips &quot;quoted&quot;');
    expect(hit!.snippet).toContain(`<mark>${word}</mark>`);
  });

  it('never answers 500 to SQL or tsquery syntax in q (S7)', async () => {
    for (const q of [
      "'; DROP TABLE transcriptions; --",
      '!!&&||(',
      'a:*',
      '"unclosed',
      '\\',
      'or or -',
      '<->',
      "' OR 1=1 --",
      '$1',
      'x'.repeat(200),
      '"a" -"b" or c d:* & !e',
      '(((((((((((',
    ]) {
      const response = await t.http.get('/api/v1/search').query({ q }).set(workerA.auth);
      expect({ q, status: [200, 400].includes(response.status) }).toEqual({ q, status: true });
    }
    for (const q of ['-excluded', '!!', '', 'x'.repeat(201)]) {
      const response = await t.http.get('/api/v1/search').query({ q }).set(workerA.auth);
      expect({ q, status: response.status }).toEqual({ q, status: 400 });
    }
    const badType = await t.http
      .get('/api/v1/search')
      .query({ q: 'x', type: 'cases,users' })
      .set(workerA.auth);
    expect(badType.status).toBe(400);
    await t.http.get('/api/v1/search').query({ q: 'x' }).expect(401);
  });
});
