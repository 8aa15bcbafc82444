import TestAgent from 'supertest/lib/agent';
import { CASE_CALLERS, CaseCaller, caseCallerSessions } from '../support/case-callers';
import { loginAsAdmin, Session, TestApp } from '../support/app';
import { createCase, startAudioApp, uploadAudio, wavBuffer } from '../support/audio';

/**
 * TARGETS S1 for the audio endpoints: every case-scoped audio route × every kind of
 * caller. Invisible → 404; visible but forbidden → 403; a role without the permission
 * → 403 before any lookup. Callers allowed past both checks sometimes meet a 409 that
 * proves it (e.g. restoring a file that is not archived).
 */
type Caller = CaseCaller;
const CALLERS = CASE_CALLERS;

interface Fixture {
  caseId: string;
  audioId: string;
}

interface Endpoint {
  name: string;
  arrange?: (t: TestApp, fixture: Fixture) => Promise<void>;
  call: (http: TestAgent, fixture: Fixture) => ReturnType<TestAgent['get']>;
  expected: Record<Caller, number>;
}

const READ = {
  lead: 200,
  member: 200,
  viewer: 200,
  outsider: 404,
  supervisor: 200,
  auditor: 200,
  processor: 200,
};
const WRITE_ACCEPTED = {
  lead: 202,
  member: 202,
  viewer: 403,
  outsider: 404,
  supervisor: 202,
  auditor: 403,
  processor: 403,
};
const PROCESSING = {
  lead: 403,
  member: 403,
  viewer: 403,
  outsider: 403,
  supervisor: 200,
  auditor: 403,
  processor: 200,
};
const HOLD = {
  lead: 403,
  member: 403,
  viewer: 403,
  outsider: 403,
  supervisor: 200,
  auditor: 403,
  processor: 403,
};

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /cases/:id/audio',
    call: (h, f) =>
      h.post(`/api/v1/cases/${f.caseId}/audio`).attach('file', wavBuffer(1), 'matrix.wav'),
    expected: {
      lead: 201,
      member: 201,
      viewer: 403,
      outsider: 404,
      supervisor: 201,
      auditor: 403,
      processor: 403,
    },
  },
  {
    name: 'GET /cases/:id/audio',
    call: (h, f) => h.get(`/api/v1/cases/${f.caseId}/audio`),
    expected: READ,
  },
  { name: 'GET /audio/:id', call: (h, f) => h.get(`/api/v1/audio/${f.audioId}`), expected: READ },
  {
    name: 'GET /audio/:id/content',
    call: (h, f) => h.get(`/api/v1/audio/${f.audioId}/content`),
    expected: READ,
  },
  {
    name: 'POST /audio/:id/claim',
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/claim`),
    expected: PROCESSING,
  },
  {
    name: 'POST /audio/:id/fail',
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/fail`).send({ error: 'decoder error' }),
    expected: PROCESSING,
  },
  {
    name: 'POST /audio/:id/requeue',
    arrange: async (t, f) => {
      await t.db.query(`UPDATE audio_files SET status = 'failed' WHERE id = $1`, [f.audioId]);
    },
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/requeue`),
    expected: {
      lead: 200,
      member: 200,
      viewer: 403,
      outsider: 404,
      supervisor: 200,
      auditor: 403,
      processor: 403,
    },
  },
  {
    name: 'POST /audio/:id/archive',
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/archive`).send({ reason: 'matrix' }),
    expected: WRITE_ACCEPTED,
  },
  {
    name: 'POST /audio/:id/restore',
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/restore`),
    // Not archived: callers that pass both checks meet the 409.
    expected: { ...WRITE_ACCEPTED, lead: 409, member: 409, supervisor: 409 },
  },
  {
    name: 'DELETE /audio/:id',
    call: (h, f) => h.delete(`/api/v1/audio/${f.audioId}`),
    expected: {
      lead: 403,
      member: 403,
      viewer: 403,
      outsider: 403,
      supervisor: 202,
      auditor: 403,
      processor: 403,
    },
  },
  {
    name: 'POST /audio/:id/verify',
    call: (h, f) => h.post(`/api/v1/audio/${f.audioId}/verify`),
    expected: {
      ...READ,
      lead: 202,
      member: 202,
      viewer: 202,
      supervisor: 202,
      auditor: 202,
      processor: 202,
    },
  },
  {
    name: 'POST /cases/:id/hold',
    call: (h, f) => h.post(`/api/v1/cases/${f.caseId}/hold`).send({ reason: 'litigation' }),
    expected: HOLD,
  },
  {
    name: 'DELETE /cases/:id/hold',
    call: (h, f) => h.delete(`/api/v1/cases/${f.caseId}/hold`).send({ reason: 'settled' }),
    // No hold to lift: the supervisor gets past the checks to the 409.
    expected: { ...HOLD, supervisor: 409 },
  },
];

describe('Audio authorization matrix (TARGETS S1, SPEC section 4)', () => {
  let t: TestApp;
  const sessions = {} as Record<Caller, Session>;

  beforeAll(async () => {
    t = await startAudioApp('authz');
    const admin = await loginAsAdmin(t.http);
    Object.assign(sessions, await caseCallerSessions(t.http, admin));
  });
  afterAll(() => t.close());

  /** A fresh case led by `lead` with `member` and `viewer`, holding one audio file. */
  async function fixture(): Promise<Fixture> {
    const { lead, member, viewer } = sessions;
    const caseId = await createCase(t.http, lead.auth, 'Audio matrix');
    for (const [participant, role] of [
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(lead.auth)
        .send({ userId: participant.userId, role })
        .expect(201);
    }
    const uploaded = await uploadAudio(t, lead.auth, caseId, { content: wavBuffer(1) });
    expect(uploaded.status).toBe(201);
    return { caseId, audioId: uploaded.body.id as string };
  }

  describe.each(ENDPOINTS)('$name', (endpoint) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const f = await fixture();
      await endpoint.arrange?.(t, f);
      const response = await endpoint.call(t.http, f).set(sessions[caller].auth);
      expect({ caller, status: response.status }).toEqual({
        caller,
        status: endpoint.expected[caller],
      });
      if (response.status >= 400) {
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });
  });

  it('answers an audio id that does not exist exactly as an invisible one', async () => {
    for (const caller of CALLERS) {
      const response = await t.http
        .get('/api/v1/audio/00000000-0000-4000-8000-000000000000')
        .set(sessions[caller].auth);
      expect({ caller, status: response.status }).toEqual({ caller, status: 404 });
    }
  });

  it('GET /audio lists only audio of visible cases (all of it for processors), filtered in SQL', async () => {
    const f = await fixture();
    const ids = async (caller: Caller, query: Record<string, string> = {}) =>
      (
        (
          await t.http
            .get('/api/v1/audio')
            .query({ limit: 100, ...query })
            .set(sessions[caller].auth)
            .expect(200)
        ).body.data as { id: string }[]
      ).map((a) => a.id);
    expect(await ids('viewer', { caseId: f.caseId })).toEqual([f.audioId]);
    expect(await ids('outsider', { caseId: f.caseId })).toEqual([]);
    expect(await ids('processor', { caseId: f.caseId, status: 'queued' })).toEqual([f.audioId]);
    expect(await ids('processor', { caseId: f.caseId, status: 'failed' })).toEqual([]);
    expect(await ids('auditor', { caseId: f.caseId, language: 'de' })).toEqual([]);
    const bad = await t.http
      .get('/api/v1/audio')
      .query({ limit: 1000 })
      .set(sessions.processor.auth);
    expect(bad.status).toBe(400);
  });
});
