import TestAgent from 'supertest/lib/agent';
import { CASE_CALLERS, CaseCaller, caseCallerSessions } from '../support/case-callers';
import { loginAsAdmin, Session, TestApp, userSession } from '../support/app';
import { startAudioApp } from '../support/audio';
import { caseWithAudio, postTranscription, simpleSegments } from '../support/transcriptions';

/**
 * TARGETS S1 for transcriptions, analyses and search: every route × every kind of caller.
 * Invisible → 404 (existence never leaks); visible but forbidden → 403; a role without
 * the permission → 403 before any lookup.
 */
type Caller = CaseCaller;
const CALLERS = CASE_CALLERS;

interface Fixture {
  caseId: string;
  audioId: string;
  transcriptionId: string;
}

interface Endpoint {
  name: string;
  call: (http: TestAgent, fixture: Fixture) => ReturnType<TestAgent['get']>;
  expected: Record<Caller, number>;
}

/** Everyone who may see the case reads; the outsider cannot see it. */
const READ = {
  lead: 200,
  member: 200,
  viewer: 200,
  outsider: 404,
  supervisor: 200,
  auditor: 200,
  processor: 200,
};
/** Engine output: transcriptions:write / analysis:write (supervisors and processors). */
const ENGINE = {
  lead: 403,
  member: 403,
  viewer: 403,
  outsider: 403,
  supervisor: 201,
  auditor: 403,
  processor: 201,
};

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /audio/:id/transcriptions',
    call: (h, f) =>
      h
        .post(`/api/v1/audio/${f.audioId}/transcriptions`)
        .send({ engine: 'matrix', segments: simpleSegments('matrix') }),
    expected: ENGINE,
  },
  {
    name: 'GET /audio/:id/transcriptions',
    call: (h, f) => h.get(`/api/v1/audio/${f.audioId}/transcriptions`),
    expected: READ,
  },
  {
    name: 'GET /audio/:id/transcriptions/latest',
    call: (h, f) => h.get(`/api/v1/audio/${f.audioId}/transcriptions/latest`),
    expected: READ,
  },
  {
    name: 'GET /transcriptions/:id',
    call: (h, f) => h.get(`/api/v1/transcriptions/${f.transcriptionId}`),
    expected: READ,
  },
  {
    name: 'GET /transcriptions/:id/export',
    call: (h, f) => h.get(`/api/v1/transcriptions/${f.transcriptionId}/export?format=srt`),
    expected: READ,
  },
  {
    name: 'PATCH /transcriptions/:id/speakers',
    call: (h, f) =>
      h.patch(`/api/v1/transcriptions/${f.transcriptionId}/speakers`).send({ Speaker_0: 'Alice' }),
    // Leads and members (cases:write) and engines rename; viewers and auditors do not.
    expected: {
      lead: 200,
      member: 200,
      viewer: 403,
      outsider: 404,
      supervisor: 200,
      auditor: 403,
      processor: 200,
    },
  },
  {
    name: 'POST /transcriptions/:id/analysis',
    call: (h, f) =>
      h
        .post(`/api/v1/transcriptions/${f.transcriptionId}/analysis`)
        .send({ engine: 'matrix', sentiment: 'neutral' }),
    expected: ENGINE,
  },
  {
    name: 'GET /transcriptions/:id/analysis',
    call: (h, f) => h.get(`/api/v1/transcriptions/${f.transcriptionId}/analysis`),
    expected: READ,
  },
  {
    name: 'GET /audio/:id/analysis/latest',
    call: (h, f) => h.get(`/api/v1/audio/${f.audioId}/analysis/latest`),
    expected: READ,
  },
];

describe('Transcription and analysis authorization matrix (TARGETS S1, SPEC section 5)', () => {
  let t: TestApp;
  let engine: Session;
  const sessions = {} as Record<Caller, Session>;

  beforeAll(async () => {
    t = await startAudioApp('transcription-authz');
    const admin = await loginAsAdmin(t.http);
    Object.assign(sessions, await caseCallerSessions(t.http, admin));
    engine = await userSession(t.http, admin, 'processor');
  });
  afterAll(() => t.close());

  /** A case led by `lead` with `member` and `viewer`, one audio file, a transcription and an analysis. */
  async function fixture(): Promise<Fixture> {
    const { lead, member, viewer } = sessions;
    const { caseId, audioId } = await caseWithAudio(t, lead.auth);
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
    const created = await postTranscription(t.http, engine.auth, audioId, {
      segments: simpleSegments('matrix fixture'),
    }).expect(201);
    const transcriptionId = (created.body as { id: string }).id;
    await t.http
      .post(`/api/v1/transcriptions/${transcriptionId}/analysis`)
      .set(engine.auth)
      .send({ engine: 'matrix', sentiment: 'positive', sentimentScore: 0.5 })
      .expect(201);
    return { caseId, audioId, transcriptionId };
  }

  describe.each(ENDPOINTS)('$name', (endpoint) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const f = await fixture();
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

  it('answers ids that do not exist exactly as invisible ones', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const caller of CALLERS) {
      for (const path of [
        `/api/v1/transcriptions/${missing}`,
        `/api/v1/transcriptions/${missing}/analysis`,
        `/api/v1/audio/${missing}/transcriptions`,
      ]) {
        const response = await t.http.get(path).set(sessions[caller].auth);
        expect({ caller, path, status: response.status }).toEqual({ caller, path, status: 404 });
      }
    }
  });

  it('GET /search answers every caller, with only what each may see', async () => {
    const f = await fixture();
    const word = `matrixword${f.caseId.replace(/[^a-f]/g, '')}`;
    await postTranscription(t.http, engine.auth, f.audioId, {
      segments: simpleSegments(`the ${word} statement`),
    }).expect(201);
    const expectedHits: Record<Caller, number> = {
      lead: 1,
      member: 1,
      viewer: 1,
      outsider: 0,
      supervisor: 1,
      auditor: 1,
      processor: 1,
    };
    for (const caller of CALLERS) {
      const response = await t.http
        .get('/api/v1/search')
        .query({ q: word, type: 'transcriptions' })
        .set(sessions[caller].auth);
      expect({ caller, status: response.status, total: response.body.meta?.total }).toEqual({
        caller,
        status: 200,
        total: expectedHits[caller],
      });
    }
  });
});
