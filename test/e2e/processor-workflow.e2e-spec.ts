import { createApiKey, loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { downloadAudio, startAudioApp } from '../support/audio';
import { caseWithAudio, TranscriptionBody } from '../support/transcriptions';

/**
 * SPEC sections 4 and 5, the README's "Processing engines": a speech engine with an API
 * key finds queued audio across cases, claims one exclusively, downloads it, posts a
 * transcription (or a failure), and an analysis engine posts an analysis of it.
 */
describe('Processing engine workflow with an API key (SPEC sections 4 and 5)', () => {
  let t: TestApp;
  let lead: Session;
  let otherLead: Session;
  let engineA: { userId: string; header: { 'X-API-Key': string } };
  let engineB: { userId: string; header: { 'X-API-Key': string } };

  beforeAll(async () => {
    t = await startAudioApp('processor');
    const admin = await loginAsAdmin(t.http);
    lead = await userSession(t.http, admin, 'case_worker');
    otherLead = await userSession(t.http, admin, 'case_worker');
    for (const assign of [
      (e: typeof engineA) => (engineA = e),
      (e: typeof engineB) => (engineB = e),
    ]) {
      const session = await userSession(t.http, admin, 'processor');
      const key = await createApiKey(t.http, session);
      assign({ userId: session.userId, header: key.header });
    }
  });
  afterAll(() => t.close());

  /** Every queued file the engine can see, all pages: other specs queue files in this database too. */
  const queuedIds = async (): Promise<string[]> => {
    const ids: string[] = [];
    for (let page = 1; ; page += 1) {
      const response = await t.http
        .get('/api/v1/audio')
        .query({ status: 'queued', limit: 100, page })
        .set(engineA.header)
        .expect(200);
      const data = (response.body as { data: { id: string }[] }).data;
      ids.push(...data.map((a) => a.id));
      if (data.length < 100) return ids;
    }
  };

  it('lists, claims exclusively, downloads, transcribes, analyses, and reports failures', async () => {
    const first = await caseWithAudio(t, lead.auth, { language: 'en' });
    const second = await caseWithAudio(t, otherLead.auth);

    // 1. Work across every case: both files are queued, whoever's case they are in.
    expect(await queuedIds()).toEqual(expect.arrayContaining([first.audioId, second.audioId]));

    // 2. Claim exclusively.
    const claimed = await t.http
      .post(`/api/v1/audio/${first.audioId}/claim`)
      .set(engineA.header)
      .expect(200);
    expect(claimed.body).toMatchObject({ status: 'processing', claimedBy: engineA.userId });
    const taken = await t.http.post(`/api/v1/audio/${first.audioId}/claim`).set(engineB.header);
    expect(taken.status).toBe(409);
    expect(taken.body.type).toMatch(/audio-claimed$/);
    expect(await queuedIds()).not.toContain(first.audioId);

    // 3. Download the bytes it transcribes.
    const bytes = await downloadAudio(t, engineA.header, first.audioId);
    expect(bytes.status).toBe(200);
    expect(bytes.sha256).toBe(first.sha256);

    // 4. Post the transcription: the audio is processed and the claim released.
    const created = await t.http
      .post(`/api/v1/audio/${first.audioId}/transcriptions`)
      .set(engineA.header)
      .send({
        engine: 'whisper-large-v3',
        audioSha256: bytes.sha256,
        segments: [
          { start: 0, end: 0.4, speaker: 'Speaker_0', text: 'Hello, police?', confidence: 0.93 },
          { start: 0.4, end: 0.9, speaker: 'Speaker_1', text: 'What happened?', confidence: 0.9 },
        ],
      })
      .expect(201);
    const transcription = created.body as TranscriptionBody;
    expect(transcription).toMatchObject({ version: 1, language: 'en', createdBy: engineA.userId });
    const audio = await t.http.get(`/api/v1/audio/${first.audioId}`).set(lead.auth).expect(200);
    expect(audio.body).toMatchObject({ status: 'processed', claimedBy: null, claimedAt: null });

    // 5. An analysis engine (here the same key) analyses the transcription.
    const analysis = await t.http
      .post(`/api/v1/transcriptions/${transcription.id}/analysis`)
      .set(engineA.header)
      .send({
        engine: 'sentiment-v2',
        summary: 'Emergency call.',
        sentiment: 'negative',
        sentimentScore: -0.6,
      })
      .expect(201);
    const latest = await t.http
      .get(`/api/v1/audio/${first.audioId}/analysis/latest`)
      .set(lead.auth)
      .expect(200);
    expect(latest.body).toMatchObject({
      id: analysis.body.id,
      transcriptionVersion: 1,
      stale: false,
    });

    // 6. The other file fails, is requeued by its case, and a stale claim changes hands.
    await t.http.post(`/api/v1/audio/${second.audioId}/claim`).set(engineB.header).expect(200);
    const failed = await t.http
      .post(`/api/v1/audio/${second.audioId}/transcriptions`)
      .set(engineB.header)
      .send({ error: 'Unsupported codec' })
      .expect(200);
    expect(failed.body).toMatchObject({ status: 'failed', errorMessage: 'Unsupported codec' });
    await t.http.post(`/api/v1/audio/${second.audioId}/claim`).set(engineA.header).expect(409);
    await t.http.post(`/api/v1/audio/${second.audioId}/requeue`).set(otherLead.auth).expect(200);
    await t.http.post(`/api/v1/audio/${second.audioId}/claim`).set(engineA.header).expect(200);
    await t.db.query(
      `UPDATE audio_files SET claimed_at = now() - interval '31 minutes' WHERE id = $1`,
      [second.audioId],
    );
    const handedOver = await t.http
      .post(`/api/v1/audio/${second.audioId}/claim`)
      .set(engineB.header)
      .expect(200);
    expect(handedOver.body.claimedBy).toBe(engineB.userId);

    // 7. Every step is audited under the engine's own identity.
    const activity = await t.http
      .get(`/api/v1/cases/${first.caseId}/activity`)
      .set(lead.auth)
      .expect(200);
    const entries = (activity.body as { data: { action: string; actorId: string }[] }).data;
    expect(entries.filter((e) => e.actorId === engineA.userId).map((e) => e.action)).toEqual([
      'audio.claim',
      'audio.download',
      'transcription.create',
      'analysis.create',
    ]);
  });

  it('refuses engine routes to an API key whose owner lacks the permission', async () => {
    const { audioId } = await caseWithAudio(t, lead.auth);
    const key = await createApiKey(t.http, lead);
    expect((await t.http.post(`/api/v1/audio/${audioId}/claim`).set(key.header)).status).toBe(403);
    const post = await t.http
      .post(`/api/v1/audio/${audioId}/transcriptions`)
      .set(key.header)
      .send({ engine: 'e', segments: [] });
    expect(post.status).toBe(403);
  });
});
