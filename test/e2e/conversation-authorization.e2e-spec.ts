import TestAgent from 'supertest/lib/agent';
import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';
import { openEventStream, portOf } from '../support/conversation-http';
import { createConversation, turn, uniqueName } from '../support/turns';

/**
 * TARGETS S1 for conversations: every conversation endpoint × every kind of caller gives
 * the documented status. The rules (SPEC section 6, src/auth/built-in-roles.ts, the access
 * guard): a conversation is visible to its participants (creator, joined members), to the
 * participants of the case it is linked to, and to holders of `cases:all` (supervisor,
 * auditor, processor). The role's permission is checked first (403 without it, before any
 * lookup); then an invisible conversation is 404 (existence never leaks); a case viewer
 * may read but not change or ingest (403).
 *
 * Callers: `creator` created the conversation (a member of the linked case, which is what
 * lets them link it); `joined` joined it by name and password and has no part in the case;
 * `lead`, `member`, `viewer` are participants of the linked case only; `outsider` is a
 * case_worker with no part in either; the others are the built-in roles.
 */
type Caller =
  | 'creator'
  | 'joined'
  | 'lead'
  | 'member'
  | 'viewer'
  | 'outsider'
  | 'supervisor'
  | 'auditor'
  | 'processor';
const CALLERS: Caller[] = [
  'creator',
  'joined',
  'lead',
  'member',
  'viewer',
  'outsider',
  'supervisor',
  'auditor',
  'processor',
];
const ROLE_OF: Record<Caller, string> = {
  creator: 'case_worker',
  joined: 'case_worker',
  lead: 'case_worker',
  member: 'case_worker',
  viewer: 'case_worker',
  outsider: 'case_worker',
  supervisor: 'supervisor',
  auditor: 'auditor',
  processor: 'processor',
};

interface Fixture {
  conversationId: string;
  caseId: string;
}

interface Endpoint {
  name: string;
  /** Returns the status line only (for the event stream, whose body never ends). */
  status?: (t: TestApp, fixture: Fixture, session: Session) => Promise<number>;
  call?: (http: TestAgent, fixture: Fixture) => ReturnType<TestAgent['get']>;
  expected: Record<Caller, number>;
}

/** conversations:read on a visible conversation; every built-in role here holds it. */
const READ: Record<Caller, number> = {
  creator: 200,
  joined: 200,
  lead: 200,
  member: 200,
  viewer: 200,
  outsider: 404,
  supervisor: 200,
  auditor: 200,
  processor: 200,
};
/** conversations:write on a visible conversation, as a participant who may change it. */
const WRITE: Record<Caller, number> = {
  creator: 200,
  joined: 200,
  lead: 200,
  member: 200,
  viewer: 403,
  outsider: 404,
  supervisor: 200,
  auditor: 403,
  processor: 403,
};
/** conversations:ingest or conversations:write: the processor ingests, the auditor does not. */
const INGEST: Record<Caller, number> = {
  ...WRITE,
  creator: 202,
  joined: 202,
  lead: 202,
  member: 202,
  supervisor: 202,
  processor: 202,
};

const path = (f: Fixture, rest = '') => `/api/v1/conversations/${f.conversationId}${rest}`;

const ENDPOINTS: Endpoint[] = [
  { name: 'GET /conversations/:id', call: (h, f) => h.get(path(f)), expected: READ },
  {
    name: 'PATCH /conversations/:id',
    call: (h, f) => h.patch(path(f)).send({ description: 'changed' }),
    expected: WRITE,
  },
  { name: 'POST /conversations/:id/end', call: (h, f) => h.post(path(f, '/end')), expected: WRITE },
  {
    name: 'GET /conversations/:id/verify',
    call: (h, f) => h.get(path(f, '/verify')),
    expected: READ,
  },
  {
    name: 'GET /conversations/:id/stats',
    call: (h, f) => h.get(path(f, '/stats')),
    expected: READ,
  },
  {
    name: 'POST /conversations/:id/turns (single)',
    call: (h, f) => h.post(path(f, '/turns')).send(turn(1)),
    expected: INGEST,
  },
  {
    name: 'POST /conversations/:id/turns (batch)',
    call: (h, f) => h.post(path(f, '/turns')).send({ turns: [turn(1), turn(2)] }),
    expected: INGEST,
  },
  {
    name: 'GET /conversations/:id/turns',
    call: (h, f) => h.get(path(f, '/turns')),
    expected: READ,
  },
  {
    name: 'GET /conversations/:id/turns/recent',
    call: (h, f) => h.get(path(f, '/turns/recent')).query({ minutes: 5 }),
    expected: READ,
  },
  {
    name: 'GET /conversations/:id/turns/window',
    call: (h, f) => h.get(path(f, '/turns/window')).query({ size: 20 }),
    expected: READ,
  },
  {
    name: 'GET /conversations/:id/stream',
    status: async (t, f, session) => {
      const stream = await openEventStream(portOf(t), path(f, '/stream'), {
        authorization: session.auth.Authorization,
      });
      stream.close();
      return stream.status;
    },
    expected: READ,
  },
];

describe('Conversation authorization matrix (TARGETS S1, S3)', () => {
  let t: TestApp;
  const sessions = {} as Record<Caller, Session>;
  let caseId: string;

  beforeAll(async () => {
    t = await startApp();
    const admin = await loginAsAdmin(t.http);
    for (const caller of CALLERS)
      sessions[caller] = await userSession(t.http, admin, ROLE_OF[caller]);
    const created = await t.http
      .post('/api/v1/cases')
      .set(sessions.lead.auth)
      .send({ title: 'Conversation matrix case' })
      .expect(201);
    caseId = (created.body as { id: string }).id;
    for (const [caller, role] of [
      ['creator', 'member'],
      ['member', 'member'],
      ['viewer', 'viewer'],
    ] as const) {
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(sessions.lead.auth)
        .send({ userId: sessions[caller].userId, role })
        .expect(201);
    }
  });
  afterAll(() => t.close());

  /** A fresh conversation linked to the case, created by `creator` and joined by `joined`. */
  async function freshConversation(linked = true): Promise<Fixture> {
    const password = 'join-secret-123';
    const conversation = await createConversation(t.http, sessions.creator, {
      joinPassword: password,
      ...(linked ? { caseId } : {}),
    });
    await t.http
      .post('/api/v1/conversations/join')
      .set(sessions.joined.auth)
      .send({ name: conversation.name, password })
      .expect(200);
    return { conversationId: conversation.id, caseId };
  }

  async function statusOf(endpoint: Endpoint, fixture: Fixture, caller: Caller) {
    if (endpoint.status) return { status: await endpoint.status(t, fixture, sessions[caller]) };
    const response = await endpoint.call!(t.http, fixture).set(sessions[caller].auth);
    if (response.status >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    return { status: response.status };
  }

  describe.each(ENDPOINTS)('$name', (endpoint) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const fixture = await freshConversation();
      const { status } = await statusOf(endpoint, fixture, caller);
      expect({ caller, status }).toEqual({ caller, status: endpoint.expected[caller] });
    });
  });

  describe('a conversation that does not exist', () => {
    const missing: Fixture = {
      conversationId: '00000000-0000-4000-8000-000000000000',
      caseId: '00000000-0000-4000-8000-000000000000',
    };
    describe.each(ENDPOINTS)('$name', (endpoint) => {
      it.each(CALLERS)('answers %s exactly as an invisible conversation does', async (caller) => {
        const { status } = await statusOf(endpoint, missing, caller);
        // 403 where the role lacks the permission (checked before any lookup), else 404.
        const expected = endpoint.expected[caller] === 403 && caller !== 'viewer' ? 403 : 404;
        expect({ caller, status }).toEqual({ caller, status: expected });
      });
    });
  });

  describe('a conversation linked to no case', () => {
    const UNLINKED_READ: Record<Caller, number> = {
      ...READ,
      lead: 404,
      member: 404,
      viewer: 404,
    };
    it.each(CALLERS)(
      'is visible to %s only as a participant or a holder of cases:all',
      async (caller) => {
        const fixture = await freshConversation(false);
        const response = await t.http.get(path(fixture)).set(sessions[caller].auth);
        expect({ caller, status: response.status }).toEqual({
          caller,
          status: UNLINKED_READ[caller],
        });
      },
    );
  });

  describe('POST /conversations with a caseId', () => {
    // Attaching a conversation to a case adds to the case: it needs write standing on the
    // case, as uploading audio does. An invisible case is 422, like one that does not exist.
    const CREATE_LINKED: Record<Caller, number> = {
      creator: 201,
      joined: 422,
      lead: 201,
      member: 201,
      viewer: 403,
      outsider: 422,
      supervisor: 201,
      auditor: 403,
      processor: 403,
    };
    it.each(CALLERS)('as %s', async (caller) => {
      const response = await t.http
        .post('/api/v1/conversations')
        .set(sessions[caller].auth)
        .send({ name: uniqueName('linked'), caseId });
      expect({ caller, status: response.status }).toEqual({
        caller,
        status: CREATE_LINKED[caller],
      });
      if (response.status >= 400) {
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        const [row] = await t.db.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM conversations WHERE created_by = $1 AND case_id = $2',
          [sessions[caller].userId, caseId],
        );
        expect(row!.n).toBe(0);
      }
    });
  });

  describe('GET /conversations', () => {
    it.each(CALLERS)('lists the conversation for %s only when it is visible', async (caller) => {
      const fixture = await freshConversation();
      const response = await t.http
        .get('/api/v1/conversations')
        .query({ status: 'active', limit: 100, caseId })
        .set(sessions[caller].auth);
      expect(response.status).toBe(200);
      const ids = (response.body as { data: { id: string }[] }).data.map((c) => c.id);
      expect({ caller, listed: ids.includes(fixture.conversationId) }).toEqual({
        caller,
        listed: READ[caller] === 200,
      });
    });
  });

  describe('object properties (TARGETS S3)', () => {
    const SERVER_OWNED = {
      id: '00000000-0000-4000-8000-000000000001',
      status: 'archived',
      turnsCount: 1000,
      totalProcessingTimeMs: 5,
      averageConfidence: 1,
      confidenceSum: 10,
      lastActivityAt: '2020-01-01T00:00:00.000Z',
      createdBy: '00000000-0000-4000-8000-000000000002',
      createdAt: '2020-01-01T00:00:00.000Z',
      updatedAt: '2020-01-01T00:00:00.000Z',
      endedAt: '2020-01-01T00:00:00.000Z',
      endedReason: 'idle',
      sealHash: 'a'.repeat(64),
      sealedAt: '2020-01-01T00:00:00.000Z',
      version: 99,
      hasJoinPassword: true,
      joinPasswordHash: '$argon2id$v=19$m=65536,t=3,p=4$abc$def',
      partitionMonth: '2020-01-01',
    };

    const rowOf = async (id: string) => {
      const [row] = await t.db.query<Record<string, unknown>[]>(
        `SELECT status, turns_count::text AS "turnsCount", seal_hash AS "sealHash", created_by AS "createdBy",
                version, ended_at AS "endedAt", ended_reason AS "endedReason", case_id AS "caseId", description
           FROM conversations WHERE id = $1`,
        [id],
      );
      return row!;
    };

    it.each(Object.entries(SERVER_OWNED))(
      'refuses %s on create with 400 naming the field, and creates nothing',
      async (field, value) => {
        const creator = sessions.creator;
        const name = uniqueName('forbidden');
        const response = await t.http
          .post('/api/v1/conversations')
          .set(creator.auth)
          .send({ name, [field]: value });
        expect(response.status).toBe(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect((response.body as { errors: { field: string }[] }).errors).toEqual(
          expect.arrayContaining([expect.objectContaining({ field })]),
        );
        const [row] = await t.db.query<{ n: number }[]>(
          'SELECT count(*)::int AS n FROM conversations WHERE name = $1',
          [name],
        );
        expect(row!.n).toBe(0);
      },
    );

    // caseId and joinPassword may be patched (by an owner): conversation-participants spec.
    it.each(Object.entries(SERVER_OWNED))(
      'refuses %s on patch with 400 naming the field, and changes nothing',
      async (field, value) => {
        const fixture = await freshConversation();
        const before = await rowOf(fixture.conversationId);
        const response = await t.http
          .patch(path(fixture))
          .set(sessions.creator.auth)
          .send({ description: 'would change', [field]: value });
        expect(response.status).toBe(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect((response.body as { errors: { field: string }[] }).errors).toEqual(
          expect.arrayContaining([expect.objectContaining({ field })]),
        );
        expect(await rowOf(fixture.conversationId)).toEqual(before);
      },
    );

    it('refuses server-stamped turn fields with 400 and buffers nothing', async () => {
      const fixture = await freshConversation();
      for (const [field, value] of Object.entries({
        id: '1',
        conversationId: fixture.conversationId,
        confidenceLevel: 'HIGH',
        receivedAt: '2020-01-01T00:00:00.000Z',
        persistedAt: '2020-01-01T00:00:00.000Z',
        queueTimeMs: 0,
        ingestedBy: sessions.creator.userId,
      })) {
        for (const body of [
          turn(1, { [field]: value }),
          { turns: [turn(1, { [field]: value })] },
        ]) {
          const response = await t.http
            .post(path(fixture, '/turns'))
            .set(sessions.creator.auth)
            .send(body);
          expect({ field, status: response.status }).toEqual({ field, status: 400 });
        }
      }
      const listed = await t.http
        .get(path(fixture, '/turns'))
        .set(sessions.creator.auth)
        .expect(200);
      expect(listed.body.data).toEqual([]);
    });

    it('never returns the join password, its hash or internal columns on any read', async () => {
      const fixture = await freshConversation();
      const reads = await Promise.all([
        t.http.get(path(fixture)).set(sessions.creator.auth),
        t.http.get('/api/v1/conversations').query({ caseId }).set(sessions.supervisor.auth),
        t.http.patch(path(fixture)).set(sessions.creator.auth).send({ description: 'x' }),
        t.http
          .post('/api/v1/conversations/join')
          .set(sessions.outsider.auth)
          .send({
            name: (await t.http.get(path(fixture)).set(sessions.creator.auth)).body.name,
            password: 'join-secret-123',
          }),
      ]);
      for (const response of reads) {
        expect(response.status).toBe(200);
        expect(response.text).not.toMatch(
          /join-secret-123|\$argon2|joinPassword"|joinPasswordHash|partitionMonth|confidenceSum/,
        );
      }
    });
  });
});
