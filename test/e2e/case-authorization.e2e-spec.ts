import TestAgent from 'supertest/lib/agent';
import { CASE_CALLERS, CaseCaller, caseCallerSessions } from '../support/case-callers';
import { loginAsAdmin, Session, startApp, TestApp } from '../support/app';

/**
 * TARGETS S1: every case-scoped endpoint × every kind of caller gives the documented
 * status. Invisible cases answer 404 (existence never leaks); a visible case with a
 * forbidden action answers 403; a role without the permission gets 403 before any lookup.
 */
type Caller = CaseCaller;
const CALLERS = CASE_CALLERS;

interface Fixture {
  caseId: string;
  memberId: string;
}

interface Endpoint {
  name: string;
  /** Prepares the case (e.g. closes it) before the call. */
  arrange?: (http: TestAgent, lead: Session, fixture: Fixture) => Promise<void>;
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
  processor: 403,
};
const WRITE = {
  lead: 200,
  member: 200,
  viewer: 403,
  outsider: 404,
  supervisor: 200,
  auditor: 403,
  processor: 403,
};
const MANAGE = {
  lead: 201,
  member: 403,
  viewer: 403,
  outsider: 404,
  supervisor: 201,
  auditor: 403,
  processor: 403,
};

const ENDPOINTS: Endpoint[] = [
  { name: 'GET /cases/:id', call: (h, f) => h.get(`/api/v1/cases/${f.caseId}`), expected: READ },
  {
    name: 'PATCH /cases/:id',
    call: (h, f) => h.patch(`/api/v1/cases/${f.caseId}`).send({ title: 'changed' }),
    expected: WRITE,
  },
  {
    name: 'POST /cases/:id/close',
    call: (h, f) => h.post(`/api/v1/cases/${f.caseId}/close`),
    expected: WRITE,
  },
  {
    name: 'POST /cases/:id/reopen',
    arrange: async (h, lead, f) => {
      await h.post(`/api/v1/cases/${f.caseId}/close`).set(lead.auth).expect(200);
    },
    call: (h, f) => h.post(`/api/v1/cases/${f.caseId}/reopen`),
    expected: WRITE,
  },
  {
    name: 'DELETE /cases/:id',
    call: (h, f) => h.delete(`/api/v1/cases/${f.caseId}`),
    expected: {
      lead: 403,
      member: 403,
      viewer: 403,
      outsider: 403,
      supervisor: 204,
      auditor: 403,
      processor: 403,
    },
  },
  {
    name: 'GET /cases/:id/participants',
    call: (h, f) => h.get(`/api/v1/cases/${f.caseId}/participants`),
    expected: READ,
  },
  {
    name: 'POST /cases/:id/participants',
    call: (h, f) =>
      h.post(`/api/v1/cases/${f.caseId}/participants`).send({ userId: f.memberId, role: 'viewer' }),
    // The member is already a participant: a caller allowed to manage gets 409, proving it got past the checks.
    expected: { ...MANAGE, lead: 409, supervisor: 409 },
  },
  {
    name: 'PATCH /cases/:id/participants/:userId',
    call: (h, f) =>
      h.patch(`/api/v1/cases/${f.caseId}/participants/${f.memberId}`).send({ role: 'viewer' }),
    expected: { ...MANAGE, lead: 200, supervisor: 200 },
  },
  {
    name: 'DELETE /cases/:id/participants/:userId',
    call: (h, f) => h.delete(`/api/v1/cases/${f.caseId}/participants/${f.memberId}`),
    expected: { ...MANAGE, lead: 204, supervisor: 204 },
  },
  {
    name: 'GET /cases/:id/notes',
    call: (h, f) => h.get(`/api/v1/cases/${f.caseId}/notes`),
    expected: READ,
  },
  {
    name: 'POST /cases/:id/notes',
    call: (h, f) => h.post(`/api/v1/cases/${f.caseId}/notes`).send({ body: 'a note' }),
    expected: { ...WRITE, lead: 201, member: 201, supervisor: 201 },
  },
  {
    name: 'GET /cases/:id/activity',
    call: (h, f) => h.get(`/api/v1/cases/${f.caseId}/activity`),
    expected: READ,
  },
];

describe('Case authorization matrix (TARGETS S1)', () => {
  let t: TestApp;
  const sessions = {} as Record<Caller, Session>;

  beforeAll(async () => {
    t = await startApp();
    const admin = await loginAsAdmin(t.http);
    Object.assign(sessions, await caseCallerSessions(t.http, admin));
  });
  afterAll(() => t.close());

  /** A fresh case led by `lead`, with `member` and `viewer` added. */
  async function freshCase(): Promise<Fixture> {
    const { lead, member, viewer } = sessions;
    const created = await t.http
      .post('/api/v1/cases')
      .set(lead.auth)
      .send({ title: 'Matrix case' })
      .expect(201);
    const caseId = (created.body as { id: string }).id;
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
    return { caseId, memberId: member.userId };
  }

  describe.each(ENDPOINTS)('$name', (endpoint) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const fixture = await freshCase();
      await endpoint.arrange?.(t.http, sessions.lead, fixture);
      const response = await endpoint.call(t.http, fixture).set(sessions[caller].auth);
      expect({ caller, status: response.status }).toEqual({
        caller,
        status: endpoint.expected[caller],
      });
      if (response.status >= 400) {
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });
  });

  describe('a case that does not exist', () => {
    it.each(CALLERS)('answers %s exactly as an invisible case does', async (caller) => {
      const response = await t.http
        .get('/api/v1/cases/00000000-0000-4000-8000-000000000000')
        .set(sessions[caller].auth);
      expect(response.status).toBe(caller === 'processor' ? 403 : 404);
    });
  });

  describe('lists', () => {
    it('only ever return visible cases', async () => {
      const fixture = await freshCase();
      const ids = async (caller: Caller) =>
        (
          (
            await t.http
              .get('/api/v1/cases')
              .query({ limit: 100 })
              .set(sessions[caller].auth)
              .expect(200)
          ).body.data as { id: string }[]
        ).map((c) => c.id);
      expect(await ids('viewer')).toContain(fixture.caseId);
      expect(await ids('outsider')).not.toContain(fixture.caseId);
      const all = await t.http
        .get('/api/v1/cases')
        .query({ participant: sessions.lead.userId, limit: 100 })
        .set(sessions.auditor.auth)
        .expect(200);
      expect(all.body.data.map((c: { id: string }) => c.id)).toContain(fixture.caseId);
    });
  });
});
