import TestAgent from 'supertest/lib/agent';
import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';
import { openEventStream, portOf } from '../support/conversation-http';
import { createConversation, turn } from '../support/turns';

/**
 * TARGETS S1 for the routes of SPEC section 10 (turn revisions, conversation participants,
 * join password and case link, delete, the stream): every route × every kind of caller
 * gives the documented status, and a refused change leaves everything as it was.
 *
 * The rules (SPEC sections 2, 6 and 10; src/core/access): the role's permission is checked
 * first (403 before any lookup, so a missing conversation answers it too); then a
 * conversation the caller does not see is 404, exactly like one that does not exist; then
 * the caller's standing decides. Conversation `owner`s manage it (participants, join
 * password, case link, delete), as do holders of conversations:write with cases:all;
 * `member`s (and participants of the linked case, a case lead counting as a member)
 * ingest and revise; `viewer`s (and case viewers) only read (403).
 *
 * Callers, on a fresh conversation linked to a case:
 * - `owner` created it (a member of the case, which lets them link it);
 * - `member`, `viewer` were added to the conversation with that role and have no part in
 *   the case;
 * - `caseLead`, `caseMember`, `caseViewer` take part in the linked case only;
 * - `outsider` is a case_worker with no part in either;
 * - `admin` (`*`) and `supervisor` (cases:all, conversations:*) see and manage everything;
 * - `auditor` holds cases:all with conversations:read only, `processor` cases:all with
 *   conversations:read and conversations:ingest: both are refused conversations:write.
 */
type Caller =
  | 'owner'
  | 'member'
  | 'viewer'
  | 'caseLead'
  | 'caseMember'
  | 'caseViewer'
  | 'outsider'
  | 'admin'
  | 'supervisor'
  | 'auditor'
  | 'processor';
const CALLERS: Caller[] = [
  'owner',
  'member',
  'viewer',
  'caseLead',
  'caseMember',
  'caseViewer',
  'outsider',
  'admin',
  'supervisor',
  'auditor',
  'processor',
];
const ROLE_OF: Record<Caller, string> = {
  owner: 'case_worker',
  member: 'case_worker',
  viewer: 'case_worker',
  caseLead: 'case_worker',
  caseMember: 'case_worker',
  caseViewer: 'case_worker',
  outsider: 'case_worker',
  admin: 'admin',
  supervisor: 'supervisor',
  auditor: 'auditor',
  processor: 'processor',
};

/** conversations:read on a visible conversation: every built-in role holds the permission. */
const READ: Record<Caller, number> = {
  owner: 200,
  member: 200,
  viewer: 200,
  caseLead: 200,
  caseMember: 200,
  caseViewer: 200,
  outsider: 404,
  admin: 200,
  supervisor: 200,
  auditor: 200,
  processor: 200,
};
/** conversations:ingest or conversations:write, as an owner or member: never a viewer. */
const REVISE: Record<Caller, number> = {
  ...READ,
  viewer: 403,
  caseViewer: 403,
  auditor: 403,
};
/** conversations:write, as an owner or with cases:all. */
const MANAGE: Record<Caller, number> = {
  owner: 200,
  member: 403,
  viewer: 403,
  caseLead: 403,
  caseMember: 403,
  caseViewer: 403,
  outsider: 404,
  admin: 200,
  supervisor: 200,
  auditor: 403,
  processor: 403,
};
/** conversations:write, as an owner or member (name, description, metadata). */
const WRITE: Record<Caller, number> = { ...MANAGE, member: 200, caseLead: 200, caseMember: 200 };

/** The table with its success status replaced (201, 202, 204). */
const succeeding = (table: Record<Caller, number>, ok: number): Record<Caller, number> =>
  Object.fromEntries(
    Object.entries(table).map(([caller, code]) => [caller, code === 200 ? ok : code]),
  ) as Record<Caller, number>;

/** Callers whose role lacks the route's permission: 403 before any lookup. */
const NO_WRITE: Caller[] = ['auditor', 'processor'];
const NO_INGEST: Caller[] = ['auditor'];

interface Fixture {
  id: string;
  name: string;
  caseId: string;
  /** A member none of the callers is, for the routes that change or remove someone. */
  target: string;
  /** A user who takes no part yet, for the add route. */
  newcomer: string;
}

interface World {
  t: TestApp;
  sessions: Record<Caller, Session>;
  /** Per caller, a case it leads (or, for cases:all holders, any case): one it sees. */
  ownCase: Record<Caller, string>;
  /** A case none of the callers takes part in. */
  strangerCase: string;
  /** A deleted case: invisible to everyone. */
  deletedCase: string;
}

interface Route {
  name: string;
  call: (http: TestAgent, f: Fixture, caller: Caller, w: World) => ReturnType<TestAgent['get']>;
  expected: Record<Caller, number>;
  /** Whose role lacks the permission (their 403 comes before the conversation is looked up). */
  refusedByRole: Caller[];
  /**
   * What the route would change, read by someone who sees everything. A refusal must leave
   * it equal; a success must change it (which proves the observation can see a change).
   */
  observe?: (w: World, f: Fixture) => Promise<unknown>;
}

const path = (f: { id: string }, rest = '') => `/api/v1/conversations/${f.id}${rest}`;

describe('Conversation authorization matrix, SPEC section 10 routes (TARGETS S1, S3)', () => {
  let t: TestApp;
  let observer: Session;
  const sessions = {} as Record<Caller, Session>;
  const ownCase = {} as Record<Caller, string>;
  let caseId: string;
  let strangerCase: string;
  let deletedCase: string;
  let newcomer: string;
  let target: string;
  const world = (): World => ({ t, sessions, ownCase, strangerCase, deletedCase });

  const createCase = async (session: Session, title: string): Promise<string> =>
    (
      (await t.http.post('/api/v1/cases').set(session.auth).send({ title }).expect(201)).body as {
        id: string;
      }
    ).id;

  beforeAll(async () => {
    t = await startApp();
    observer = await loginAsAdmin(t.http);
    for (const caller of CALLERS)
      sessions[caller] = await userSession(t.http, observer, ROLE_OF[caller]);
    caseId = await createCase(sessions.caseLead, 'Conversation matrix v2 case');
    for (const [caller, role] of [
      ['owner', 'member'],
      ['caseMember', 'member'],
      ['caseViewer', 'viewer'],
    ] as const) {
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(sessions.caseLead.auth)
        .send({ userId: sessions[caller].userId, role })
        .expect(201);
    }
    const stranger = await userSession(t.http, observer, 'case_worker');
    strangerCase = await createCase(stranger, 'Nobody here takes part');
    deletedCase = await createCase(stranger, 'Deleted');
    await t.http.delete(`/api/v1/cases/${deletedCase}`).set(observer.auth).expect(204);
    for (const caller of CALLERS) {
      ownCase[caller] =
        ROLE_OF[caller] === 'case_worker'
          ? await createCase(sessions[caller], `Led by ${caller}`)
          : strangerCase;
    }
    newcomer = (await userSession(t.http, observer, 'case_worker')).userId;
    target = (await userSession(t.http, observer, 'case_worker')).userId;
  });
  afterAll(() => t.close());

  /**
   * A conversation linked to the case, created by `owner` with a join password, with
   * `member`, `viewer` and `target` added, and turn 1 posted.
   */
  async function fresh(): Promise<Fixture> {
    const conversation = await createConversation(t.http, sessions.owner, {
      caseId,
      joinPassword: 'join-secret-123',
    });
    for (const [userId, role] of [
      [sessions.member.userId, 'member'],
      [sessions.viewer.userId, 'viewer'],
      [target, 'member'],
    ]) {
      await t.http
        .post(path(conversation, '/participants'))
        .set(sessions.owner.auth)
        .send({ userId, role })
        .expect(201);
    }
    await t.http
      .post(path(conversation, '/turns'))
      .set(sessions.owner.auth)
      .send(turn(1))
      .expect(202);
    return { ...conversation, caseId, target, newcomer };
  }

  /** Reads change nothing: one conversation serves every read cell. */
  let shared: Promise<Fixture> | undefined;
  const sharedFixture = () => (shared ??= fresh());

  // Observations, made by the seeded admin (sees every live conversation).
  const participantsOf = async (_w: World, f: Fixture) => {
    const response = await t.http.get(path(f, '/participants')).set(observer.auth).expect(200);
    return Object.fromEntries(
      (response.body as { data: { userId: string; role: string }[] }).data.map((p) => [
        p.userId,
        p.role,
      ]),
    );
  };
  const revisionsOf = async (_w: World, f: Fixture) => {
    const [one, history] = await Promise.all([
      t.http.get(path(f, '/turns/1')).set(observer.auth).expect(200),
      t.http.get(path(f, '/turns/1/revisions')).set(observer.auth).expect(200),
    ]);
    const body = one.body as { revision: number; cleanedText: string | null };
    return {
      revision: body.revision,
      cleanedText: body.cleanedText,
      revisions: (history.body as { data: { revision: number }[] }).data.map((r) => r.revision),
    };
  };
  const turnsOf = async (_w: World, f: Fixture) =>
    (
      (await t.http.get(path(f, '/turns')).set(observer.auth).expect(200)).body as {
        data: { messageNumber: number }[];
      }
    ).data.map((x) => x.messageNumber);
  const rowOf = async (_w: World, f: Fixture) => {
    const [row] = await t.db.query<Record<string, unknown>[]>(
      `SELECT status, case_id AS "caseId", join_password_hash AS "joinPasswordHash",
              description, version
         FROM conversations WHERE id = $1`,
      [f.id],
    );
    const read = await t.http.get(path(f)).set(observer.auth);
    return { ...row, readStatus: read.status };
  };

  const ROUTES: Route[] = [
    {
      name: 'GET /conversations/:id/turns/:messageNumber',
      call: (h, f) => h.get(path(f, '/turns/1')),
      expected: READ,
      refusedByRole: [],
    },
    {
      name: 'GET /conversations/:id/turns/:messageNumber/revisions',
      call: (h, f) => h.get(path(f, '/turns/1/revisions')),
      expected: READ,
      refusedByRole: [],
    },
    {
      name: 'PATCH /conversations/:id/turns/:messageNumber',
      call: (h, f, caller) =>
        h.patch(path(f, '/turns/1')).send({ cleanedText: `cleaned by ${caller}` }),
      expected: REVISE,
      refusedByRole: NO_INGEST,
      observe: revisionsOf,
    },
    {
      name: 'POST /conversations/:id/turns',
      call: (h, f) => h.post(path(f, '/turns')).send(turn(2)),
      expected: succeeding(REVISE, 202),
      refusedByRole: NO_INGEST,
      observe: turnsOf,
    },
    {
      name: 'GET /conversations/:id/participants',
      call: (h, f) => h.get(path(f, '/participants')),
      expected: READ,
      refusedByRole: [],
    },
    {
      name: 'POST /conversations/:id/participants',
      call: (h, f) => h.post(path(f, '/participants')).send({ userId: f.newcomer, role: 'viewer' }),
      expected: succeeding(MANAGE, 201),
      refusedByRole: NO_WRITE,
      observe: participantsOf,
    },
    {
      name: 'PATCH /conversations/:id/participants/:userId',
      call: (h, f) => h.patch(path(f, `/participants/${f.target}`)).send({ role: 'owner' }),
      expected: MANAGE,
      refusedByRole: NO_WRITE,
      observe: participantsOf,
    },
    {
      name: 'DELETE /conversations/:id/participants/:userId',
      call: (h, f) => h.delete(path(f, `/participants/${f.target}`)),
      expected: succeeding(MANAGE, 204),
      refusedByRole: NO_WRITE,
      observe: participantsOf,
    },
    {
      name: 'PATCH /conversations/:id { description }',
      call: (h, f, caller) => h.patch(path(f)).send({ description: `by ${caller}` }),
      expected: WRITE,
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'PATCH /conversations/:id { joinPassword }',
      call: (h, f) => h.patch(path(f)).send({ joinPassword: 'another-secret-456' }),
      expected: MANAGE,
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'PATCH /conversations/:id { joinPassword: null }',
      call: (h, f) => h.patch(path(f)).send({ joinPassword: null }),
      expected: MANAGE,
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'PATCH /conversations/:id { caseId: a case the caller sees }',
      call: (h, f, caller, w) => h.patch(path(f)).send({ caseId: w.ownCase[caller] }),
      expected: MANAGE,
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      // cases:all sees every live case, so only a deleted one is hidden from admin and
      // supervisor (next row); an owner gets 422, as for a case that does not exist.
      name: 'PATCH /conversations/:id { caseId: a case none of the case workers sees }',
      call: (h, f, _caller, w) => h.patch(path(f)).send({ caseId: w.strangerCase }),
      expected: { ...MANAGE, owner: 422 },
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'PATCH /conversations/:id { caseId: a deleted case }',
      call: (h, f, _caller, w) => h.patch(path(f)).send({ caseId: w.deletedCase }),
      expected: { ...MANAGE, owner: 422, admin: 422, supervisor: 422 },
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'PATCH /conversations/:id { caseId: null }',
      call: (h, f) => h.patch(path(f)).send({ caseId: null }),
      expected: MANAGE,
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
    {
      name: 'DELETE /conversations/:id',
      call: (h, f) => h.delete(path(f)),
      expected: succeeding(MANAGE, 204),
      refusedByRole: NO_WRITE,
      observe: rowOf,
    },
  ];

  describe.each(ROUTES)('$name', (route) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const f = route.observe ? await fresh() : await sharedFixture();
      const before = route.observe ? await route.observe(world(), f) : undefined;
      const response = await route.call(t.http, f, caller, world()).set(sessions[caller].auth);
      if (response.status >= 400) {
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      expect({ caller, status: response.status }).toEqual({
        caller,
        status: route.expected[caller],
      });
      if (route.refusedByRole.includes(caller)) {
        expect((response.body as { detail: string }).detail).toMatch(/^Your role /);
      }
      if (route.observe) {
        const after = await route.observe(world(), f);
        if (response.status >= 400) expect(after).toEqual(before);
        else expect(after).not.toEqual(before);
      }
    });
  });

  describe('GET /conversations/:id/stream', () => {
    it.each(CALLERS)('as %s', async (caller) => {
      const f = await sharedFixture();
      const stream = await openEventStream(portOf(t), path(f, '/stream'), {
        authorization: sessions[caller].auth.Authorization,
      });
      stream.close();
      expect({ caller, status: stream.status }).toEqual({ caller, status: READ[caller] });
    });

    it('a viewer reads the stream (turn and turn.revised) but may neither ingest nor revise', async () => {
      const f = await fresh();
      const stream = await openEventStream(portOf(t), path(f, '/stream'), {
        authorization: sessions.viewer.auth.Authorization,
      });
      try {
        expect(stream.status).toBe(200);
        const viewer = sessions.viewer.auth;
        const ingest = await t.http.post(path(f, '/turns')).set(viewer).send(turn(2));
        expect(ingest.status).toBe(403);
        const revise = await t.http.patch(path(f, '/turns/1')).set(viewer).send({
          cleanedText: 'by the viewer',
        });
        expect(revise.status).toBe(403);
        // What the owner revises and posts reaches the viewer; the viewer's own did not
        // happen (a stream without Last-Event-ID starts with what comes after it opened).
        await t.http
          .patch(path(f, '/turns/1'))
          .set(sessions.owner.auth)
          .send({ cleanedText: 'by the owner' })
          .expect(200);
        await t.http.post(path(f, '/turns')).set(sessions.owner.auth).send(turn(3)).expect(202);
        const events = await stream.waitFor(2);
        expect(events.map((e) => e.event)).toEqual(['turn.revised', 'turn']);
        const data = events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
        expect(data.map((d) => d.messageNumber)).toEqual([1, 3]);
        expect(data[0]).toMatchObject({ revision: 2, cleanedText: 'by the owner' });
        expect(await revisionsOf(world(), f)).toEqual({
          revision: 2,
          cleanedText: 'by the owner',
          revisions: [1, 2],
        });
        expect(await turnsOf(world(), f)).toEqual([1, 3]);
      } finally {
        stream.close();
      }
    });
  });

  describe('a conversation that does not exist', () => {
    const missing: Fixture = {
      id: '00000000-0000-4000-8000-000000000000',
      name: 'missing',
      caseId: '00000000-0000-4000-8000-000000000000',
      target: '00000000-0000-4000-8000-000000000001',
      newcomer: '00000000-0000-4000-8000-000000000002',
    };
    describe.each(ROUTES)('$name', (route) => {
      it.each(CALLERS)(
        'answers %s as an invisible conversation: 403 by role, else 404',
        async (caller) => {
          const response = await route
            .call(t.http, { ...missing, newcomer, target }, caller, world())
            .set(sessions[caller].auth);
          const expected = route.refusedByRole.includes(caller) ? 403 : 404;
          expect({ caller, status: response.status }).toEqual({ caller, status: expected });
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        },
      );
    });
  });

  describe('a turn that was never received', () => {
    const TURN_ROUTES: Route[] = [
      {
        name: 'GET …/turns/:messageNumber',
        call: (h, f) => h.get(path(f, '/turns/999')),
        expected: READ,
        refusedByRole: [],
      },
      {
        name: 'GET …/turns/:messageNumber/revisions',
        call: (h, f) => h.get(path(f, '/turns/999/revisions')),
        expected: READ,
        refusedByRole: [],
      },
      {
        name: 'PATCH …/turns/:messageNumber',
        call: (h, f) => h.patch(path(f, '/turns/999')).send({ cleanedText: 'x' }),
        expected: REVISE,
        refusedByRole: NO_INGEST,
      },
    ];
    describe.each(TURN_ROUTES)('$name', (route) => {
      it.each(CALLERS)(
        'as %s: 404 where the conversation allows it, else as the conversation answers',
        async (caller) => {
          const f = await sharedFixture();
          const response = await route.call(t.http, f, caller, world()).set(sessions[caller].auth);
          const expected = route.expected[caller] === 200 ? 404 : route.expected[caller];
          expect({ caller, status: response.status }).toEqual({ caller, status: expected });
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        },
      );
    });
  });

  describe('ids of another conversation behind a route of one the caller manages', () => {
    it('a participant of another conversation cannot be changed or removed through this one (404), and theirs stays as it was', async () => {
      const mine = await fresh();
      const theirs = await createConversation(t.http, sessions.outsider);
      const theirsFixture = { ...mine, id: theirs.id };
      await t.http
        .post(path(theirs, '/participants'))
        .set(sessions.outsider.auth)
        .send({ userId: newcomer, role: 'viewer' })
        .expect(201);
      const [mineBefore, theirsBefore] = await Promise.all([
        participantsOf(world(), mine),
        participantsOf(world(), theirsFixture),
      ]);
      for (const userId of [newcomer, sessions.outsider.userId]) {
        const changed = await t.http
          .patch(path(mine, `/participants/${userId}`))
          .set(sessions.owner.auth)
          .send({ role: 'owner' });
        expect({ userId, status: changed.status }).toEqual({ userId, status: 404 });
        const removed = await t.http
          .delete(path(mine, `/participants/${userId}`))
          .set(sessions.owner.auth);
        expect({ userId, status: removed.status }).toEqual({ userId, status: 404 });
      }
      expect(await participantsOf(world(), mine)).toEqual(mineBefore);
      expect(await participantsOf(world(), theirsFixture)).toEqual(theirsBefore);
      // And the owner of this one is nobody there.
      await t.http.get(path(theirs)).set(sessions.owner.auth).expect(404);
    });

    it('a turn number of another conversation is read and revised only through that one', async () => {
      const mine = await fresh();
      const theirs = await createConversation(t.http, sessions.outsider);
      await t.http
        .post(path(theirs, '/turns'))
        .set(sessions.outsider.auth)
        .send(turn(5, { rawText: 'not yours' }))
        .expect(202);
      for (const request of [
        t.http.get(path(mine, '/turns/5')),
        t.http.get(path(mine, '/turns/5/revisions')),
        t.http.patch(path(mine, '/turns/5')).send({ cleanedText: 'mine now' }),
      ]) {
        const response = await request.set(sessions.owner.auth);
        expect(response.status).toBe(404);
        expect(response.text).not.toMatch(/not yours/);
      }
      const stored = await t.http
        .get(path(theirs, '/turns/5'))
        .set(sessions.outsider.auth)
        .expect(200);
      expect(stored.body).toMatchObject({ revision: 1, cleanedText: null, rawText: 'not yours' });
    });
  });

  describe('object properties (TARGETS S3)', () => {
    const problemFields = (body: unknown) =>
      ((body as { errors?: { field: string }[] }).errors ?? []).map((e) => e.field);

    it.each([
      ['revision', 7],
      ['updatedAt', '2020-01-01T00:00:00.000Z'],
      ['changedBy', '00000000-0000-4000-8000-000000000001'],
      ['ingestedBy', '00000000-0000-4000-8000-000000000001'],
      ['persistedAt', '2020-01-01T00:00:00.000Z'],
      ['id', '1'],
      ['conversationId', '00000000-0000-4000-8000-000000000001'],
      ['confidenceLevel', 'HIGH'],
      ['queueTimeMs', 0],
    ])(
      'PATCH …/turns/:messageNumber refuses %s (400 naming it) and revises nothing',
      async (field, value) => {
        const f = await fresh();
        const before = await revisionsOf(world(), f);
        const response = await t.http
          .patch(path(f, '/turns/1'))
          .set(sessions.owner.auth)
          .send({ cleanedText: 'would change', [field]: value });
        expect(response.status).toBe(400);
        expect(problemFields(response.body)).toContain(field);
        expect(await revisionsOf(world(), f)).toEqual(before);
      },
    );

    it.each([
      ['via', 'creator'],
      ['joinedAt', '2020-01-01T00:00:00.000Z'],
      ['conversationId', '00000000-0000-4000-8000-000000000001'],
      ['addedBy', '00000000-0000-4000-8000-000000000001'],
    ])('POST …/participants refuses %s (400 naming it) and adds no one', async (field, value) => {
      const f = await fresh();
      const before = await participantsOf(world(), f);
      const response = await t.http
        .post(path(f, '/participants'))
        .set(sessions.owner.auth)
        .send({ userId: f.newcomer, role: 'member', [field]: value });
      expect(response.status).toBe(400);
      expect(problemFields(response.body)).toContain(field);
      expect(await participantsOf(world(), f)).toEqual(before);
    });

    it.each([
      ['userId', '00000000-0000-4000-8000-000000000001'],
      ['via', 'creator'],
      ['joinedAt', '2020-01-01T00:00:00.000Z'],
    ])(
      'PATCH …/participants/:userId refuses %s (400 naming it) and changes no role',
      async (field, value) => {
        const f = await fresh();
        const before = await participantsOf(world(), f);
        const response = await t.http
          .patch(path(f, `/participants/${f.target}`))
          .set(sessions.owner.auth)
          .send({ role: 'owner', [field]: value });
        expect(response.status).toBe(400);
        expect(problemFields(response.body)).toContain(field);
        expect(await participantsOf(world(), f)).toEqual(before);
      },
    );

    it('participants, turns and revisions carry no account data, secret or internal column', async () => {
      const f = await fresh();
      await t.http
        .patch(path(f, '/turns/1'))
        .set(sessions.owner.auth)
        .send({ cleanedText: 'cleaned' })
        .expect(200);
      const reads = await Promise.all(
        ['/participants', '/turns/1', '/turns/1/revisions', ''].map((rest) =>
          t.http.get(path(f, rest)).set(sessions.viewer.auth),
        ),
      );
      for (const response of reads) {
        expect(response.status).toBe(200);
        expect(response.text).not.toMatch(
          /passwordHash|password_hash|joinPassword|join-secret-123|\$argon2|email|tokenVersion|partitionMonth|ingestedBy/,
        );
      }
      const [participants] = reads;
      for (const row of (participants!.body as { data: Record<string, unknown>[] }).data) {
        expect(Object.keys(row).sort()).toEqual(['joinedAt', 'role', 'userId', 'via']);
      }
    });
  });

  describe('changes of who sees the conversation apply at once', () => {
    it('relinking to another case: the old case’s participants lose it (404), conversation participants keep theirs', async () => {
      const f = await fresh();
      await t.http.get(path(f, '/turns/1')).set(sessions.caseViewer.auth).expect(200);
      await t.http
        .patch(path(f))
        .set(sessions.owner.auth)
        .send({ caseId: ownCase.owner })
        .expect(200);
      for (const caller of ['caseLead', 'caseMember', 'caseViewer'] as const) {
        const response = await t.http.get(path(f, '/turns/1')).set(sessions[caller].auth);
        expect({ caller, status: response.status }).toEqual({ caller, status: 404 });
      }
      // Conversation participants keep their standing.
      await t.http.get(path(f, '/turns/1')).set(sessions.viewer.auth).expect(200);
      await t.http
        .patch(path(f, '/turns/1'))
        .set(sessions.member.auth)
        .send({ cleanedText: 'still a member' })
        .expect(200);
    });

    it('a deleted linked case takes the conversation from its participants only', async () => {
      const linked = await createCase(sessions.caseLead, 'Deleted while linked');
      await t.http
        .post(`/api/v1/cases/${linked}/participants`)
        .set(sessions.caseLead.auth)
        .send({ userId: sessions.owner.userId, role: 'member' })
        .expect(201);
      const f = await fresh();
      await t.http.patch(path(f)).set(sessions.owner.auth).send({ caseId: linked }).expect(200);
      await t.http.get(path(f, '/turns/1')).set(sessions.caseLead.auth).expect(200);
      await t.http.delete(`/api/v1/cases/${linked}`).set(observer.auth).expect(204);
      // caseMember and caseViewer took part in the first case only.
      const LEFT: Record<Caller, number> = {
        ...READ,
        caseLead: 404,
        caseMember: 404,
        caseViewer: 404,
      };
      for (const caller of CALLERS) {
        const response = await t.http.get(path(f, '/turns/1')).set(sessions[caller].auth);
        expect({ caller, status: response.status }).toEqual({ caller, status: LEFT[caller] });
      }
    });

    it('gaining access applies at once too: a cached 404 never outlives a join, an add or a case membership', async () => {
      const f = await fresh();
      const joiner = await userSession(t.http, observer, 'case_worker');
      const invited = await userSession(t.http, observer, 'case_worker');
      const caseJoiner = await userSession(t.http, observer, 'case_worker');
      for (const user of [joiner, invited, caseJoiner]) {
        await t.http.get(path(f, '/turns/1')).set(user.auth).expect(404);
      }
      await t.http
        .post('/api/v1/conversations/join')
        .set(joiner.auth)
        .send({ name: f.name, password: 'join-secret-123' })
        .expect(200);
      await t.http
        .post(path(f, '/participants'))
        .set(sessions.owner.auth)
        .send({ userId: invited.userId, role: 'viewer' })
        .expect(201);
      await t.http
        .post(`/api/v1/cases/${caseId}/participants`)
        .set(sessions.caseLead.auth)
        .send({ userId: caseJoiner.userId, role: 'member' })
        .expect(201);
      for (const user of [joiner, invited, caseJoiner]) {
        await t.http.get(path(f, '/turns/1')).set(user.auth).expect(200);
      }
      // Each with the standing it was given: members revise, the viewer does not.
      await t.http
        .patch(path(f, '/turns/1'))
        .set(joiner.auth)
        .send({ cleanedText: 'joined' })
        .expect(200);
      await t.http
        .patch(path(f, '/turns/1'))
        .set(caseJoiner.auth)
        .send({ cleanedText: 'case member' })
        .expect(200);
      expect(
        (await t.http.patch(path(f, '/turns/1')).set(invited.auth).send({ cleanedText: 'viewer' }))
          .status,
      ).toBe(403);
      expect((await revisionsOf(world(), f)).revisions).toEqual([1, 2, 3]);
    });

    it('a deleted conversation is 404 to everyone, its owner and cases:all included', async () => {
      const f = await fresh();
      await t.http.delete(path(f)).set(sessions.owner.auth).expect(204);
      for (const caller of CALLERS) {
        for (const rest of ['', '/turns/1', '/turns/1/revisions', '/participants']) {
          const response = await t.http.get(path(f, rest)).set(sessions[caller].auth);
          expect({ caller, rest, status: response.status }).toEqual({ caller, rest, status: 404 });
        }
      }
    });
  });
});
