import { loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { startAudioApp } from '../support/audio';
import {
  caseWithAudio,
  fixture,
  fixtureSegments,
  postTranscription,
  simpleSegments,
  TranscriptionBody,
} from '../support/transcriptions';

interface AnalysisBody {
  id: string;
  version: number;
  transcriptionId: string;
  transcriptionVersion: number;
  sentiment: string | null;
  sentimentScore: number | null;
  details: Record<string, unknown>;
  stale: boolean;
}

describe('Transcriptions and analyses (SPEC section 5)', () => {
  let t: TestApp;
  let admin: Session;
  let lead: Session;
  let processor: Session;
  let otherProcessor: Session;

  beforeAll(async () => {
    t = await startAudioApp('transcriptions');
    admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
    processor = await userSession(t.http, admin, 'processor');
    otherProcessor = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  describe('versions', () => {
    it('gives 20 concurrent posts the versions 1..20, no gaps, no duplicates, one latest', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          postTranscription(t.http, processor.auth, audioId, {
            segments: simpleSegments(`attempt ${i}`),
          }),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
      const versions = responses
        .map((r) => (r.body as TranscriptionBody).version)
        .sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const parents = responses
        .map((r) => r.body as TranscriptionBody)
        .sort((a, b) => a.version - b.version)
        .map((b) => b.parentVersion);
      expect(parents).toEqual([null, ...Array.from({ length: 19 }, (_, i) => i + 1)]);

      const list = await t.http
        .get(`/api/v1/audio/${audioId}/transcriptions`)
        .query({ limit: 100 })
        .set(lead.auth)
        .expect(200);
      expect(list.body.meta.total).toBe(20);
      expect(list.body.data.map((v: TranscriptionBody) => v.version)).toEqual(
        Array.from({ length: 20 }, (_, i) => 20 - i),
      );
      expect(list.body.data.filter((v: TranscriptionBody) => v.isLatest)).toHaveLength(1);
      expect(list.body.data[0]).not.toHaveProperty('segments');
      const latest = await t.http
        .get(`/api/v1/audio/${audioId}/transcriptions/latest`)
        .set(lead.auth)
        .expect(200);
      expect(latest.body).toMatchObject({ version: 20, isLatest: true });
    });

    it('records lineage, marks the audio processed, releases the claim, counts usage and audits', async () => {
      const { caseId, audioId, sha256 } = await caseWithAudio(t, lead.auth, { language: 'en' });
      await t.http.post(`/api/v1/audio/${audioId}/claim`).set(processor.auth).expect(200);
      const before = await usage(processor.userId);
      const created = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('The suspect left by the back door.'),
        audioSha256: sha256,
      }).expect(201);
      const body = created.body as TranscriptionBody;
      expect(created.headers.location).toBe(`/api/v1/transcriptions/${body.id}`);
      expect(body).toMatchObject({
        audioFileId: audioId,
        caseId,
        version: 1,
        parentVersion: null,
        audioSha256: sha256,
        language: 'en',
        content: 'The suspect left by the back door.\nUnderstood.',
        segmentCount: 2,
        engine: 'test-engine',
        confidence: 0.8444,
        createdBy: processor.userId,
      });
      const audio = await t.http.get(`/api/v1/audio/${audioId}`).set(lead.auth).expect(200);
      expect(audio.body).toMatchObject({ status: 'processed', claimedBy: null });
      expect(audio.body.processedAt).toEqual(expect.any(String));
      expect(await usage(processor.userId)).toBe(before + 1);
      const activity = await t.http
        .get(`/api/v1/cases/${caseId}/activity`)
        .set(lead.auth)
        .expect(200);
      expect(activity.body.data.map((e: { action: string }) => e.action)).toEqual(
        expect.arrayContaining(['audio.claim', 'transcription.create']),
      );
      const again = await t.http
        .get(`/api/v1/transcriptions/${body.id}`)
        .set(lead.auth)
        .expect(200);
      expect(again.body).toEqual(body);
    });

    it('refuses a post while another processor holds a live claim, and accepts it once stale', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      await t.http.post(`/api/v1/audio/${audioId}/claim`).set(processor.auth).expect(200);
      const refused = await postTranscription(t.http, otherProcessor.auth, audioId, {
        segments: simpleSegments('x'),
      });
      expect(refused.status).toBe(409);
      expect(refused.body.type).toMatch(/audio-claimed$/);
      await t.db.query(
        `UPDATE audio_files SET claimed_at = now() - interval '2 hours' WHERE id = $1`,
        [audioId],
      );
      await postTranscription(t.http, otherProcessor.auth, audioId, {
        segments: simpleSegments('x'),
      }).expect(201);
    });

    it('records a failure posted as { error } like POST /audio/:id/fail', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      await t.http.post(`/api/v1/audio/${audioId}/claim`).set(processor.auth).expect(200);
      const mixed = await postTranscription(t.http, processor.auth, audioId, {
        error: 'decoder crashed',
      });
      // `engine` is added by the helper: a failure carries nothing but the error.
      expect(mixed.status).toBe(400);
      expect(mixed.body.errors).toEqual([
        { field: 'engine', message: 'engine must not be sent with error' },
      ]);
      const failed = await t.http
        .post(`/api/v1/audio/${audioId}/transcriptions`)
        .set(processor.auth)
        .send({ error: 'decoder crashed' })
        .expect(200);
      expect(failed.body).toMatchObject({
        id: audioId,
        status: 'failed',
        errorMessage: 'decoder crashed',
        claimedBy: null,
      });
      await t.http.get(`/api/v1/audio/${audioId}/transcriptions/latest`).set(lead.auth).expect(404);
    });

    it('checks parentVersion and the sha256 of the transcribed bytes', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const unknown = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('x'),
        parentVersion: 3,
      });
      expect(unknown.status).toBe(422);
      const changed = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('x'),
        audioSha256: 'f'.repeat(64),
      });
      expect(changed.status).toBe(409);
      expect(changed.body.type).toMatch(/audio-changed$/);
      await postTranscription(t.http, processor.auth, audioId, { segments: simpleSegments('a') });
      await postTranscription(t.http, processor.auth, audioId, { segments: simpleSegments('b') });
      const derived = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('c'),
        parentVersion: 1,
      }).expect(201);
      expect(derived.body).toMatchObject({ version: 3, parentVersion: 1 });
    });
  });

  describe('segment validation', () => {
    it('names the broken field of the broken segment', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth, { seconds: 10 });
      const segments = [
        { start: 0, end: 1, speaker: 'A', text: 'one', confidence: 0.9 },
        { start: 1, end: 2, speaker: 'A', text: 'two', confidence: 0.9 },
        { start: 2, end: 3, speaker: 'B', text: 'three', confidence: 0.9 },
        { start: 3.5, end: 3.2, speaker: 'B', text: 'four', confidence: 0.9 },
        { start: 3.1, end: 4, speaker: 'B', text: 'five', confidence: 0.9 },
        { start: 5, end: 11, speaker: 'A', text: 'six', confidence: 0.9 },
      ];
      const response = await postTranscription(t.http, processor.auth, audioId, { segments });
      expect(response.status).toBe(400);
      expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual([
        'segments[3].end',
        'segments[4].start',
        'segments[5].end',
      ]);
      expect(response.body.errors[0].message).toMatch(/greater than segments\[3\]\.start/);
      expect(response.body.errors[2].message).toMatch(/past the end of the audio \(10 s\)/);

      const shape = await postTranscription(t.http, processor.auth, audioId, {
        segments: [
          { start: 0, end: 1, text: 'ok', confidence: 1.5 },
          { start: 1, end: 2 },
          { start: -1, end: 'x', text: 'bad', unknown: true },
        ],
      });
      expect(shape.status).toBe(400);
      const fields = shape.body.errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'segments[0].confidence',
          'segments[1].text',
          'segments[2].start',
          'segments[2].end',
          'segments[2].unknown',
        ]),
      );
      const nothing = await t.http
        .post(`/api/v1/audio/${audioId}/transcriptions`)
        .set(processor.auth)
        .send({ engine: 'e' });
      expect(nothing.status).toBe(400);
      expect(nothing.body.errors[0].field).toBe('segments');
      const language = await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('x'),
        language: 'xx',
      });
      expect(language.status).toBe(400);
      expect(language.body.errors[0].field).toBe('language');
      // Nothing was written by any refused post.
      await t.http.get(`/api/v1/audio/${audioId}/transcriptions/latest`).set(lead.auth).expect(404);
    });
  });

  describe('exports', () => {
    let id: string;
    beforeAll(async () => {
      const { audioId } = await caseWithAudio(t, lead.auth, { seconds: 3730 });
      const created = await postTranscription(t.http, processor.auth, audioId, {
        segments: fixtureSegments(),
      }).expect(201);
      id = (created.body as TranscriptionBody).id;
    });

    it.each([
      ['srt', 'application/x-subrip; charset=utf-8', 'expected.srt'],
      ['vtt', 'text/vtt; charset=utf-8', 'expected.vtt'],
      ['txt', 'text/plain; charset=utf-8', 'expected.txt'],
    ])('writes %s exactly as the hand-checked file', async (format, type, file) => {
      const response = await t.http
        .get(`/api/v1/transcriptions/${id}/export`)
        .query({ format })
        .set(lead.auth)
        .buffer(true)
        .parse((res, done) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => done(null, text));
        })
        .expect(200);
      expect(response.headers['content-type']).toBe(type);
      expect(response.headers['content-disposition']).toMatch(
        new RegExp(`^attachment; filename="transcription-[0-9a-f-]{36}-v1\\.${format}"$`),
      );
      expect(response.body).toBe(fixture(file));
    });

    it('exports JSON with the segments as stored, and refuses unknown formats', async () => {
      const json = await t.http
        .get(`/api/v1/transcriptions/${id}/export`)
        .query({ format: 'json' })
        .set(lead.auth)
        .expect(200);
      expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(json.body).toMatchObject({ id, version: 1, segmentCount: 4 });
      expect(json.body.segments[2]).toEqual({
        start: 3725.007,
        end: 3727.1,
        speaker: null,
        text: 'Line one\r\n\r\nline two',
        confidence: null,
      });
      await t.http
        .get(`/api/v1/transcriptions/${id}/export`)
        .query({ format: 'docx' })
        .set(lead.auth)
        .expect(400);
    });
  });

  describe('speakers', () => {
    it('renames speakers into a new version whose parent is the renamed one', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const v1 = (
        await postTranscription(t.http, processor.auth, audioId, {
          segments: simpleSegments('Hello'),
        }).expect(201)
      ).body as TranscriptionBody;
      await postTranscription(t.http, processor.auth, audioId, {
        segments: simpleSegments('Hello again'),
      }).expect(201);
      const renamed = await t.http
        .patch(`/api/v1/transcriptions/${v1.id}/speakers`)
        .set(lead.auth)
        .send({ Speaker_0: 'Alice', Speaker_1: 'Bob <the> Builder' })
        .expect(200);
      expect(renamed.body).toMatchObject({
        version: 3,
        parentVersion: 1,
        isLatest: true,
        content: v1.content,
        audioSha256: v1.audioSha256,
        createdBy: lead.userId,
      });
      expect(renamed.body.segments.map((s: { speaker: string }) => s.speaker)).toEqual([
        'Alice',
        'Bob <the> Builder',
      ]);
      const original = await t.http.get(`/api/v1/transcriptions/${v1.id}`).set(lead.auth);
      expect(original.body.segments[0].speaker).toBe('Speaker_0');
      const vtt = await t.http
        .get(`/api/v1/transcriptions/${renamed.body.id}/export`)
        .query({ format: 'vtt' })
        .set(lead.auth)
        .buffer(true)
        .parse((res, done) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => done(null, text));
        });
      expect(vtt.body).toContain('<v Bob &lt;the&gt; Builder>Understood.</v>');

      const unknown = await t.http
        .patch(`/api/v1/transcriptions/${v1.id}/speakers`)
        .set(lead.auth)
        .send({ Speaker_7: 'Carol' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.errors).toEqual([
        { field: 'Speaker_7', message: 'no segment of version 1 has the speaker "Speaker_7"' },
      ]);
      for (const body of [{}, [], { Speaker_0: '' }, { Speaker_0: 5 }, { Speaker_0: 'a\u0007b' }]) {
        const response = await t.http
          .patch(`/api/v1/transcriptions/${v1.id}/speakers`)
          .set(lead.auth)
          .send(body);
        expect({ body, status: response.status }).toEqual({ body, status: 400 });
      }
    });
  });

  describe('analysis', () => {
    it('versions analyses per audio file and reports stale once a newer transcription exists', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const v1 = (
        await postTranscription(t.http, processor.auth, audioId, {
          segments: simpleSegments('We are very happy with the result.'),
        }).expect(201)
      ).body as TranscriptionBody;
      await t.http.get(`/api/v1/audio/${audioId}/analysis/latest`).set(lead.auth).expect(404);
      const first = await t.http
        .post(`/api/v1/transcriptions/${v1.id}/analysis`)
        .set(processor.auth)
        .send({
          engine: 'sentiment-v2',
          summary: 'Satisfied caller.',
          sentiment: 'positive',
          sentimentScore: 0.8,
          details: { topics: ['result'], entities: [] },
        })
        .expect(201);
      expect(first.body as AnalysisBody).toMatchObject({
        version: 1,
        transcriptionId: v1.id,
        transcriptionVersion: 1,
        sentiment: 'positive',
        sentimentScore: 0.8,
        details: { topics: ['result'], entities: [] },
        stale: false,
      });
      const second = await t.http
        .post(`/api/v1/transcriptions/${v1.id}/analysis`)
        .set(processor.auth)
        .send({ engine: 'sentiment-v3', sentiment: 'mixed', sentimentScore: 0.1 })
        .expect(201);
      expect(second.body).toMatchObject({ version: 2, stale: false, details: {}, summary: '' });

      await t.http
        .patch(`/api/v1/transcriptions/${v1.id}/speakers`)
        .set(processor.auth)
        .send({ Speaker_0: 'Alice' })
        .expect(200);
      const latest = await t.http
        .get(`/api/v1/audio/${audioId}/analysis/latest`)
        .set(lead.auth)
        .expect(200);
      expect(latest.body).toMatchObject({ version: 2, transcriptionVersion: 1, stale: true });
      const list = await t.http
        .get(`/api/v1/transcriptions/${v1.id}/analysis`)
        .set(lead.auth)
        .expect(200);
      expect(list.body.meta.total).toBe(2);
      expect(list.body.data.map((a: AnalysisBody) => [a.version, a.stale])).toEqual([
        [2, true],
        [1, true],
      ]);
    });

    it('validates sentiment, score and details', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const v1 = (
        await postTranscription(t.http, processor.auth, audioId, {
          segments: simpleSegments('x'),
        }).expect(201)
      ).body as TranscriptionBody;
      for (const [body, field] of [
        [{ engine: 'e', sentiment: 'angry' }, 'sentiment'],
        [{ engine: 'e', sentimentScore: 1.5 }, 'sentimentScore'],
        [{ engine: 'e', details: [1, 2] }, 'details'],
        [{ engine: 'e', details: 'text' }, 'details'],
        [{ sentiment: 'neutral' }, 'engine'],
        [{ engine: 'e', transcriptionVersion: 9 }, 'transcriptionVersion'],
      ] as const) {
        const response = await t.http
          .post(`/api/v1/transcriptions/${v1.id}/analysis`)
          .set(processor.auth)
          .send(body);
        expect({ field, status: response.status }).toEqual({ field, status: 400 });
        expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
    });

    it('F5: caps details at 256 KiB (413) and 16 levels of nesting (400), storing nothing', async () => {
      const { audioId } = await caseWithAudio(t, lead.auth);
      const v1 = (
        await postTranscription(t.http, processor.auth, audioId, {
          segments: simpleSegments('x'),
        }).expect(201)
      ).body as TranscriptionBody;
      const post = (details: unknown) =>
        t.http
          .post(`/api/v1/transcriptions/${v1.id}/analysis`)
          .set(processor.auth)
          .send({ engine: 'e', details });
      const big = await post({ blob: 'x'.repeat(256 * 1024) });
      expect(big.status).toBe(413);
      expect(big.headers['content-type']).toMatch(/problem\+json/);
      expect(big.body.errors).toEqual([
        { field: 'details', message: expect.stringContaining('256 KiB') },
      ]);
      let deep: Record<string, unknown> = { leaf: 1 };
      for (let level = 1; level < 17; level++) deep = { d: deep };
      const tooDeep = await post(deep);
      expect(tooDeep.status).toBe(400);
      expect(tooDeep.body.errors).toEqual([
        { field: 'details', message: expect.stringContaining('16 levels') },
      ]);
      await t.http.get(`/api/v1/audio/${audioId}/analysis/latest`).set(lead.auth).expect(404);
      // Exactly at the limits is fine.
      await post((deep as { d: Record<string, unknown> }).d).expect(201);
    });

    it('lists the sentiments lookup', async () => {
      const lookups = await t.http.get('/api/v1/lookups').set(lead.auth).expect(200);
      expect(lookups.body.sentiments.map((s: { code: string }) => s.code)).toEqual([
        'mixed',
        'negative',
        'neutral',
        'positive',
      ]);
      expect(lookups.body.activityTypes.map((a: { code: string }) => a.code)).toEqual(
        expect.arrayContaining(['transcription.create', 'analysis.create']),
      );
    });
  });

  async function usage(userId: string): Promise<number> {
    const [row] = await t.db.query<{ n: number }[]>(
      `SELECT coalesce(sum(transcriptions), 0)::int AS n FROM usage_statistics WHERE user_id = $1`,
      [userId],
    );
    return row!.n;
  }
});
