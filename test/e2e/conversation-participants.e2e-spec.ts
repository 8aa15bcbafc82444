import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import TestAgent from 'supertest/lib/agent';
import { ConversationsService } from '../../src/conversations/conversations.service';
import { QueueName } from '../../src/core/queue/queue-names';
import {
  expectProblem,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';
import { createConversation, eventually, turn, uniqueName } from '../support/turns';

/**
 * Conversation participants and management (SPEC section 10): roles `owner`, `member`,
 * `viewer`; who may list, add, change and remove them; PATCH of the join password and
 * the case link; DELETE; `endedReason`.
 *
 * The BOLA matrix takes each new route (and the routes a viewer must be kept from) × each
 * kind of caller, on a fresh conversation linked to a case:
 * - `owner` created it (a member of the case, which lets them link it);
 * - `member`, `viewer` were added to the conversation with that role, and have no part in
 *   the case;
 * - `caseLead`, `caseMember`, `caseViewer` take part in the linked case only (a case lead
 *   counts as a conversation member: managing a conversation is for its owners);
 * - `outsider` is a case_worker with no part in either;
 * - `supervisor` holds cases:all and conversations:write; `auditor` cases:all and only
 *   conversations:read.
 */
type Caller =
  | 'owner'
  | 'member'
  | 'viewer'
  | 'caseLead'
  | 'caseMember'
  | 'caseViewer'
  | 'outsider'
  | 'supervisor'
  | 'auditor';
const CALLERS: Caller[] = [
  'owner',
  'member',
  'viewer',
  'caseLead',
  'caseMember',
  'caseViewer',
  'outsider',
  'supervisor',
  'auditor',
];
const ROLE_OF: Record<Caller, string> = {
  owner: 'case_worker',
  member: 'case_worker',
  viewer: 'case_worker',
  caseLead: 'case_worker',
  caseMember: 'case_worker',
  caseViewer: 'case_worker',
  outsider: 'case_worker',
  supervisor: 'supervisor',
  auditor: 'auditor',
};

interface Fixture {
  id: string;
  name: string;
  /** A member none of the callers is, for the routes that change or remove someone. */
  target: string;
  /** A user who takes no part yet, for the add route. */
  newcomer: string;
}

interface Route {
  name: string;
  call: (http: TestAgent, f: Fixture) => ReturnType<TestAgent['get']>;
  expected: Record<Caller, number>;
}

/** Anyone who sees the conversation. */
const READ: Record<Caller, number> = {
  owner: 200,
  member: 200,
  viewer: 200,
  caseLead: 200,
  caseMember: 200,
  caseViewer: 200,
  outsider: 404,
  supervisor: 200,
  auditor: 200,
};
/** Owners, or conversations:write with cases:all; the auditor lacks conversations:write. */
const MANAGE: Record<Caller, number> = {
  owner: 200,
  member: 403,
  viewer: 403,
  caseLead: 403,
  caseMember: 403,
  caseViewer: 403,
  outsider: 404,
  supervisor: 200,
  auditor: 403,
};
/** Owners and members (of the conversation, or lent by the case); never viewers. */
const WRITE: Record<Caller, number> = {
  ...MANAGE,
  member: 200,
  caseLead: 200,
  caseMember: 200,
};
const status = (table: Record<Caller, number>, ok: number): Record<Caller, number> =>
  Object.fromEntries(
    Object.entries(table).map(([caller, code]) => [caller, code === 200 ? ok : code]),
  ) as Record<Caller, number>;

const path = (f: Fixture, rest = '') => `/api/v1/conversations/${f.id}${rest}`;

const ROUTES: Route[] = [
  { name: 'GET …/participants', call: (h, f) => h.get(path(f, '/participants')), expected: READ },
  {
    name: 'POST …/participants',
    call: (h, f) => h.post(path(f, '/participants')).send({ userId: f.newcomer, role: 'member' }),
    expected: status(MANAGE, 201),
  },
  {
    name: 'PATCH …/participants/:userId',
    call: (h, f) => h.patch(path(f, `/participants/${f.target}`)).send({ role: 'viewer' }),
    expected: MANAGE,
  },
  {
    name: 'DELETE …/participants/:userId',
    call: (h, f) => h.delete(path(f, `/participants/${f.target}`)),
    expected: status(MANAGE, 204),
  },
  {
    name: 'PATCH /conversations/:id { description }',
    call: (h, f) => h.patch(path(f)).send({ description: 'changed' }),
    expected: WRITE,
  },
  {
    name: 'PATCH /conversations/:id { joinPassword }',
    call: (h, f) => h.patch(path(f)).send({ joinPassword: 'another-secret-1' }),
    expected: MANAGE,
  },
  {
    name: 'PATCH /conversations/:id { caseId: null }',
    call: (h, f) => h.patch(path(f)).send({ caseId: null }),
    expected: MANAGE,
  },
  {
    name: 'DELETE /conversations/:id',
    call: (h, f) => h.delete(path(f)),
    expected: status(MANAGE, 204),
  },
  {
    name: 'POST …/turns',
    call: (h, f) => h.post(path(f, '/turns')).send(turn(1)),
    expected: { ...status(WRITE, 202), auditor: 403 },
  },
  {
    name: 'POST …/end',
    call: (h, f) => h.post(path(f, '/end')),
    expected: WRITE,
  },
];

describe('Conversation participants and management (SPEC section 10)', () => {
  let t: TestApp;
  let admin: Session;
  const sessions = {} as Record<Caller, Session>;
  let caseId: string;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    for (const caller of CALLERS)
      sessions[caller] = await userSession(t.http, admin, ROLE_OF[caller]);
    const created = await t.http
      .post('/api/v1/cases')
      .set(sessions.caseLead.auth)
      .send({ title: 'Conversation participants case' })
      .expect(201);
    caseId = (created.body as { id: string }).id;
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
  });
  afterAll(() => t.close());

  async function addParticipant(conversationId: string, userId: string, role: string) {
    await t.http
      .post(`/api/v1/conversations/${conversationId}/participants`)
      .set(sessions.owner.auth)
      .send({ userId, role })
      .expect(201);
  }

  async function fresh(options: { linked?: boolean } = {}): Promise<Fixture> {
    const conversation = await createConversation(t.http, sessions.owner, {
      joinPassword: 'join-secret-123',
      ...(options.linked === false ? {} : { caseId }),
    });
    await addParticipant(conversation.id, sessions.member.userId, 'member');
    await addParticipant(conversation.id, sessions.viewer.userId, 'viewer');
    const target = (await userSession(t.http, admin, 'case_worker')).userId;
    await addParticipant(conversation.id, target, 'member');
    const newcomer = (await userSession(t.http, admin, 'case_worker')).userId;
    return { ...conversation, target, newcomer };
  }

  async function participants(f: { id: string }): Promise<Record<string, string>> {
    const response = await t.http
      .get(`/api/v1/conversations/${f.id}/participants`)
      .set(sessions.owner.auth)
      .expect(200);
    return Object.fromEntries(
      (response.body as { data: { userId: string; role: string }[] }).data.map((p) => [
        p.userId,
        p.role,
      ]),
    );
  }

  async function auditOf(conversationId: string, action: string) {
    const response = await t.http
      .get('/api/v1/audit')
      .query({ resourceId: conversationId, action, limit: 100 })
      .set(admin.auth)
      .expect(200);
    return (response.body as { data: { action: string; details: Record<string, unknown> }[] }).data;
  }

  describe('BOLA matrix', () => {
    describe.each(ROUTES)('$name', (route) => {
      it.each(CALLERS)('as %s', async (caller) => {
        const fixture = await fresh();
        const response = await route.call(t.http, fixture).set(sessions[caller].auth);
        if (response.status >= 400) {
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        }
        expect({ caller, status: response.status }).toEqual({
          caller,
          status: route.expected[caller],
        });
      });
    });

    it.each(CALLERS)(
      'a conversation that does not exist answers %s as an invisible one',
      async (caller) => {
        const missing: Fixture = {
          id: '00000000-0000-4000-8000-000000000000',
          name: 'x',
          target: sessions.member.userId,
          newcomer: sessions.member.userId,
        };
        for (const route of ROUTES) {
          const response = await route.call(t.http, missing).set(sessions[caller].auth);
          // The permission is checked first (the auditor's 403), then existence: 404.
          const expected = caller === 'auditor' && route.expected.auditor === 403 ? 403 : 404;
          expect({ route: route.name, caller, status: response.status }).toEqual({
            route: route.name,
            caller,
            status: expected,
          });
        }
      },
    );
  });

  describe('roles', () => {
    it('makes the creator an owner, a password join a member, and an added user what was asked', async () => {
      const f = await fresh({ linked: false });
      const joiner = await userSession(t.http, admin, 'case_worker');
      const joined = await t.http
        .post('/api/v1/conversations/join')
        .set(joiner.auth)
        .send({ name: f.name, password: 'join-secret-123' })
        .expect(200);
      expect(joined.body).toMatchObject({ id: f.id });
      const list = await t.http.get(path(f, '/participants')).set(sessions.viewer.auth).expect(200);
      expect((list.body as { data: unknown[] }).data).toEqual(
        expect.arrayContaining([
          {
            userId: sessions.owner.userId,
            role: 'owner',
            via: 'creator',
            joinedAt: expect.any(String),
          },
          {
            userId: sessions.viewer.userId,
            role: 'viewer',
            via: 'invite',
            joinedAt: expect.any(String),
          },
          { userId: joiner.userId, role: 'member', via: 'join', joinedAt: expect.any(String) },
        ]),
      );
    });

    it('joining again by password never changes a role: an owner stays owner, a viewer viewer', async () => {
      const f = await fresh({ linked: false });
      for (const caller of ['owner', 'viewer'] as const) {
        await t.http
          .post('/api/v1/conversations/join')
          .set(sessions[caller].auth)
          .send({ name: f.name, password: 'join-secret-123' })
          .expect(200);
      }
      expect(await participants(f)).toMatchObject({
        [sessions.owner.userId]: 'owner',
        [sessions.viewer.userId]: 'viewer',
      });
    });

    it('lets a viewer read everything but not ingest (403), and changes apply at once', async () => {
      const f = await fresh({ linked: false });
      const viewer = sessions.viewer.auth;
      await t.http.post(path(f, '/turns')).set(sessions.owner.auth).send(turn(1)).expect(202);
      const refused = await t.http.post(path(f, '/turns')).set(viewer).send(turn(2));
      expect(expectProblem(refused, 403).detail).toMatch(/viewer/);
      const batch = await t.http
        .post(path(f, '/turns'))
        .set(viewer)
        .send({ turns: [turn(3)] });
      expectProblem(batch, 403);
      for (const read of ['', '/turns', '/turns/recent', '/turns/window', '/stats', '/verify']) {
        await t.http.get(path(f, read)).set(viewer).expect(200);
      }
      // Promoted: ingests at once (the cached standing is dropped with the change) …
      await t.http
        .patch(path(f, `/participants/${sessions.viewer.userId}`))
        .set(sessions.owner.auth)
        .send({ role: 'member' })
        .expect(200);
      await t.http.post(path(f, '/turns')).set(viewer).send(turn(2)).expect(202);
      // … and demoted: refused at once.
      await t.http
        .patch(path(f, `/participants/${sessions.viewer.userId}`))
        .set(sessions.owner.auth)
        .send({ role: 'viewer' })
        .expect(200);
      expectProblem(await t.http.post(path(f, '/turns')).set(viewer).send(turn(4)), 403);
      // Only turns 1 and 2 were accepted.
      const turns = await eventually(
        async () =>
          (await t.http.get(path(f, '/turns')).set(viewer).expect(200)).body as {
            data: { messageNumber: number }[];
          },
        (body) => body.data.length >= 2,
      );
      expect(turns.data.map((x) => x.messageNumber)).toEqual([1, 2]);
    });

    it('makes a case member read-only on a conversation where an owner made them a viewer', async () => {
      const f = await fresh();
      await t.http.post(path(f, '/turns')).set(sessions.caseMember.auth).send(turn(1)).expect(202);
      await addParticipant(f.id, sessions.caseMember.userId, 'viewer');
      expectProblem(
        await t.http.post(path(f, '/turns')).set(sessions.caseMember.auth).send(turn(2)),
        403,
      );
      await t.http.get(path(f)).set(sessions.caseMember.auth).expect(200);
    });

    it('a removed participant no longer sees the conversation (404)', async () => {
      const f = await fresh({ linked: false });
      await t.http.get(path(f)).set(sessions.member.auth).expect(200);
      await t.http
        .delete(path(f, `/participants/${sessions.member.userId}`))
        .set(sessions.owner.auth)
        .expect(204);
      expectProblem(await t.http.get(path(f)).set(sessions.member.auth), 404);
      expect(await participants(f)).not.toHaveProperty(sessions.member.userId);
    });

    it('refuses an unknown or inactive user (422), a second membership (409), a bad role (400), an unknown participant (404)', async () => {
      const f = await fresh({ linked: false });
      const add = (body: Record<string, unknown>) =>
        t.http.post(path(f, '/participants')).set(sessions.owner.auth).send(body);
      expect(
        expectProblem(
          await add({ userId: '00000000-0000-4000-8000-00000000abcd', role: 'member' }),
          422,
        ).detail,
      ).toMatch(/does not exist or is inactive/);
      const inactive = await userSession(t.http, admin, 'case_worker');
      await t.http
        .patch(`/api/v1/users/${inactive.userId}`)
        .set(admin.auth)
        .send({ isActive: false })
        .expect(200);
      expectProblem(await add({ userId: inactive.userId, role: 'member' }), 422);
      expectProblem(await add({ userId: sessions.member.userId, role: 'viewer' }), 409);
      expectProblem(await add({ userId: f.newcomer, role: 'lead' }), 400);
      expectProblem(await add({ userId: f.newcomer }), 400);
      expectProblem(
        await t.http
          .patch(path(f, `/participants/${f.newcomer}`))
          .set(sessions.owner.auth)
          .send({ role: 'viewer' }),
        404,
      );
      expectProblem(
        await t.http.delete(path(f, `/participants/${f.newcomer}`)).set(sessions.owner.auth),
        404,
      );
      expectProblem(
        await t.http
          .patch(path(f, `/participants/${sessions.member.userId}`))
          .set(sessions.owner.auth)
          .send({ role: 'admin' }),
        400,
      );
      expect(await participants(f)).toMatchObject({ [sessions.member.userId]: 'member' });
    });

    it('audits every change with who and what, in the conversation', async () => {
      const f = await fresh({ linked: false });
      await t.http
        .patch(path(f, `/participants/${f.target}`))
        .set(sessions.owner.auth)
        .send({ role: 'owner' })
        .expect(200);
      // The same role again changes and records nothing.
      await t.http
        .patch(path(f, `/participants/${f.target}`))
        .set(sessions.owner.auth)
        .send({ role: 'owner' })
        .expect(200);
      await t.http
        .delete(path(f, `/participants/${f.target}`))
        .set(sessions.supervisor.auth)
        .expect(204);
      const added = await auditOf(f.id, 'conversation.participant_add');
      expect(added.map((e) => e.details)).toEqual(
        expect.arrayContaining([
          { userId: sessions.member.userId, role: 'member' },
          { userId: f.target, role: 'member' },
        ]),
      );
      expect(
        (await auditOf(f.id, 'conversation.participant_role_changed')).map((e) => e.details),
      ).toEqual([{ userId: f.target, from: 'member', to: 'owner' }]);
      expect(
        (await auditOf(f.id, 'conversation.participant_remove')).map((e) => e.details),
      ).toEqual([{ userId: f.target, role: 'owner' }]);
    });
  });

  describe('the last owner', () => {
    it('can be neither removed nor demoted (409), even by cases:all; once another owner exists, can', async () => {
      const f = await fresh({ linked: false });
      const owner = sessions.owner.userId;
      for (const session of [sessions.owner, sessions.supervisor]) {
        const removed = await t.http.delete(path(f, `/participants/${owner}`)).set(session.auth);
        expect(expectProblem(removed, 409)).toMatchObject({
          type: expect.stringMatching(/\/last-owner$/),
        });
        const demoted = await t.http
          .patch(path(f, `/participants/${owner}`))
          .set(session.auth)
          .send({ role: 'member' });
        expect(expectProblem(demoted, 409)).toMatchObject({
          type: expect.stringMatching(/\/last-owner$/),
        });
      }
      await t.http
        .patch(path(f, `/participants/${f.target}`))
        .set(sessions.owner.auth)
        .send({ role: 'owner' })
        .expect(200);
      await t.http
        .patch(path(f, `/participants/${owner}`))
        .set(sessions.owner.auth)
        .send({ role: 'member' })
        .expect(200);
      // No longer an owner: may not manage any more.
      expectProblem(
        await t.http.delete(path(f, `/participants/${f.target}`)).set(sessions.owner.auth),
        403,
      );
      expect(await participants(f)).toMatchObject({ [owner]: 'member', [f.target]: 'owner' });
    });

    it('survives two owners removing each other at once: exactly one removal wins', async () => {
      const f = await fresh({ linked: false });
      const second = await userSession(t.http, admin, 'case_worker');
      await addParticipant(f.id, second.userId, 'owner');
      const [a, b] = await Promise.all([
        t.http.delete(path(f, `/participants/${second.userId}`)).set(sessions.owner.auth),
        t.http.delete(path(f, `/participants/${sessions.owner.userId}`)).set(second.auth),
      ]);
      // The row lock serialises them: the second either no longer takes part (404, its
      // guard ran after the first committed) or finds the last owner (409). Never none.
      expect([a.status, b.status].filter((s) => s === 204)).toHaveLength(1);
      const roles = Object.values(await participantsAsAdmin(f.id));
      expect(roles.filter((role) => role === 'owner')).toHaveLength(1);
    });
  });

  async function participantsAsAdmin(id: string): Promise<Record<string, string>> {
    const response = await t.http
      .get(`/api/v1/conversations/${id}/participants`)
      .set(admin.auth)
      .expect(200);
    return Object.fromEntries(
      (response.body as { data: { userId: string; role: string }[] }).data.map((p) => [
        p.userId,
        p.role,
      ]),
    );
  }

  describe('PATCH /conversations/:id: join password and case', () => {
    const join = (session: Session, name: string, password: string) =>
      t.http.post('/api/v1/conversations/join').set(session.auth).send({ name, password });

    it('sets a new join password (stored hashed, never logged) and removes it with null', async () => {
      const f = await fresh({ linked: false });
      const changed = await t.http
        .patch(path(f))
        .set(sessions.owner.auth)
        .send({ joinPassword: 'brand-new-secret-9' })
        .expect(200);
      expect(changed.body).toMatchObject({ hasJoinPassword: true });
      expect(changed.text).not.toMatch(/brand-new-secret-9/);
      const [row] = await t.db.query<{ hash: string }[]>(
        'SELECT join_password_hash AS hash FROM conversations WHERE id = $1',
        [f.id],
      );
      expect(row!.hash).toMatch(/^\$argon2/);
      const a = await userSession(t.http, admin, 'case_worker');
      expectProblem(await join(a, f.name, 'join-secret-123'), 403);
      await join(a, f.name, 'brand-new-secret-9').expect(200);

      const removed = await t.http
        .patch(path(f))
        .set(sessions.owner.auth)
        .send({ joinPassword: null })
        .expect(200);
      expect(removed.body).toMatchObject({ hasJoinPassword: false });
      const b = await userSession(t.http, admin, 'case_worker');
      expectProblem(await join(b, f.name, 'brand-new-secret-9'), 403);

      const updates = await auditOf(f.id, 'conversation.update');
      expect(updates.map((e) => e.details)).toEqual(
        expect.arrayContaining([
          { fields: ['joinPassword'], joinPassword: 'set' },
          { fields: ['joinPassword'], joinPassword: 'removed' },
        ]),
      );
      expect(JSON.stringify(updates)).not.toMatch(/brand-new-secret-9|argon2/);
    });

    it('refuses a join password that is too short or not a string (400), changing nothing', async () => {
      const f = await fresh({ linked: false });
      for (const joinPassword of ['short', 12345678, true]) {
        expectProblem(
          await t.http.patch(path(f)).set(sessions.owner.auth).send({ joinPassword }),
          400,
        );
      }
      await join(sessions.outsider, f.name, 'join-secret-123').expect(200);
    });

    it('links a case the caller may add to; its participants then see the conversation', async () => {
      const f = await fresh({ linked: false });
      expectProblem(await t.http.get(path(f)).set(sessions.caseViewer.auth), 404);
      const linked = await t.http
        .patch(path(f))
        .set(sessions.owner.auth)
        .send({ caseId })
        .expect(200);
      expect(linked.body).toMatchObject({ caseId });
      await t.http.get(path(f)).set(sessions.caseViewer.auth).expect(200);
      const listed = await t.http
        .get('/api/v1/conversations')
        .query({ caseId, limit: 100 })
        .set(sessions.caseMember.auth)
        .expect(200);
      expect((listed.body as { data: { id: string }[] }).data.map((c) => c.id)).toContain(f.id);
      expect((await auditOf(f.id, 'conversation.update')).map((e) => e.details)).toEqual([
        { fields: ['caseId'], caseFrom: null, caseTo: caseId },
      ]);
    });

    it('unlinks with caseId null: the case participants lose the conversation', async () => {
      const f = await fresh();
      await t.http.get(path(f)).set(sessions.caseMember.auth).expect(200);
      const unlinked = await t.http
        .patch(path(f))
        .set(sessions.owner.auth)
        .send({ caseId: null })
        .expect(200);
      expect(unlinked.body).toMatchObject({ caseId: null });
      expectProblem(await t.http.get(path(f)).set(sessions.caseMember.auth), 404);
      await t.http.get(path(f)).set(sessions.member.auth).expect(200);
    });

    it('refuses a case the caller cannot see (422, as on create) or only views (403)', async () => {
      const f = await fresh({ linked: false });
      const hidden = await t.http
        .post('/api/v1/cases')
        .set(sessions.outsider.auth)
        .send({ title: 'Not yours' })
        .expect(201);
      expect(
        expectProblem(
          await t.http
            .patch(path(f))
            .set(sessions.owner.auth)
            .send({ caseId: (hidden.body as { id: string }).id }),
          422,
        ),
      ).toMatchObject({ type: expect.stringMatching(/\/unknown-case$/) });
      expectProblem(
        await t.http
          .patch(path(f))
          .set(sessions.owner.auth)
          .send({ caseId: '00000000-0000-4000-8000-000000000000' }),
        422,
      );
      expectProblem(
        await t.http.patch(path(f)).set(sessions.owner.auth).send({ caseId: 'nope' }),
        400,
      );
      // The owner made a viewer of a case: may see it, may not attach to it.
      const viewed = await t.http
        .post('/api/v1/cases')
        .set(sessions.caseLead.auth)
        .send({ title: 'Viewed only' })
        .expect(201);
      const viewedId = (viewed.body as { id: string }).id;
      await t.http
        .post(`/api/v1/cases/${viewedId}/participants`)
        .set(sessions.caseLead.auth)
        .send({ userId: sessions.owner.userId, role: 'viewer' })
        .expect(201);
      expectProblem(
        await t.http.patch(path(f)).set(sessions.owner.auth).send({ caseId: viewedId }),
        403,
      );
      const current = await t.http.get(path(f)).set(sessions.owner.auth).expect(200);
      expect(current.body).toMatchObject({ caseId: null, version: 1 });
    });

    it('still refuses changes to an ended conversation (409)', async () => {
      const f = await fresh({ linked: false });
      await t.http.post(path(f, '/end')).set(sessions.owner.auth).expect(200);
      for (const body of [{ joinPassword: null }, { caseId }, { description: 'x' }]) {
        expectProblem(await t.http.patch(path(f)).set(sessions.owner.auth).send(body), 409);
      }
    });
  });

  describe('DELETE /conversations/:id', () => {
    it('answers 204; the conversation is gone from reads, lists, turns and joins; its name is free', async () => {
      const f = await fresh();
      await t.http.post(path(f, '/turns')).set(sessions.member.auth).send(turn(1)).expect(202);
      await t.http.delete(path(f)).set(sessions.owner.auth).expect(204);
      for (const caller of ['owner', 'member', 'caseMember', 'supervisor'] as const) {
        expectProblem(await t.http.get(path(f)).set(sessions[caller].auth), 404);
        expectProblem(await t.http.get(path(f, '/turns')).set(sessions[caller].auth), 404);
        expectProblem(await t.http.get(path(f, '/participants')).set(sessions[caller].auth), 404);
      }
      expectProblem(
        await t.http.post(path(f, '/turns')).set(sessions.owner.auth).send(turn(2)),
        404,
      );
      expectProblem(await t.http.delete(path(f)).set(sessions.owner.auth), 404);
      const listed = await t.http
        .get('/api/v1/conversations')
        .query({ limit: 100, caseId })
        .set(sessions.supervisor.auth)
        .expect(200);
      expect((listed.body as { data: { id: string }[] }).data.map((c) => c.id)).not.toContain(f.id);
      expectProblem(
        await t.http
          .post('/api/v1/conversations/join')
          .set(sessions.outsider.auth)
          .send({ name: f.name, password: 'join-secret-123' }),
        403,
      );
      const again = await createConversation(t.http, sessions.owner, { name: f.name });
      expect(again.id).not.toBe(f.id);
      const [row] = await t.db.query<{ status: string }[]>(
        'SELECT status FROM conversations WHERE id = $1',
        [f.id],
      );
      expect(row!.status).toBe('deleted');
      expect((await auditOf(f.id, 'conversation.delete')).map((e) => e.details)).toEqual([
        { name: f.name, status: 'active' },
      ]);
    });

    it('deletes an ended conversation too', async () => {
      const f = await fresh({ linked: false });
      await t.http.post(path(f, '/end')).set(sessions.owner.auth).expect(200);
      await t.http.delete(path(f)).set(sessions.supervisor.auth).expect(204);
      expectProblem(await t.http.get(path(f)).set(sessions.owner.auth), 404);
    });
  });

  describe('endedReason', () => {
    it('is null while active and "request" once a client ends the conversation', async () => {
      const f = await fresh({ linked: false });
      const active = await t.http.get(path(f)).set(sessions.owner.auth).expect(200);
      expect(active.body).toMatchObject({ status: 'active', endedReason: null });
      const ended = await t.http.post(path(f, '/end')).set(sessions.member.auth).expect(200);
      expect(ended.body).toMatchObject({ status: 'archived', endedReason: 'request' });
      const read = await t.http.get(path(f)).set(sessions.viewer.auth).expect(200);
      expect(read.body).toMatchObject({ endedReason: 'request', sealHash: expect.any(String) });
    });

    it('with CONVERSATION_IDLE_MINUTES=0 (this run) no idle sweep is scheduled and none ends anything', async () => {
      const queue = t.app.get<Queue>(getQueueToken(QueueName.ConversationIdle));
      expect(await queue.getJobSchedulers()).toEqual([]);
      const f = await fresh({ linked: false });
      await t.db.query(
        `UPDATE conversations SET created_at = now() - interval '30 days',
                                  last_activity_at = now() - interval '30 days' WHERE id = $1`,
        [f.id],
      );
      expect(await t.app.get(ConversationsService).endIdle()).toEqual([]);
      expect((await t.http.get(path(f)).set(sessions.owner.auth).expect(200)).body).toMatchObject({
        status: 'active',
        endedReason: null,
      });
    });

    it('cannot be set by a client (400)', async () => {
      const f = await fresh({ linked: false });
      expectProblem(
        await t.http.patch(path(f)).set(sessions.owner.auth).send({ endedReason: 'idle' }),
        400,
      );
      expectProblem(
        await t.http
          .post('/api/v1/conversations')
          .set(sessions.owner.auth)
          .send({ name: uniqueName('reason'), endedReason: 'idle' }),
        400,
      );
    });
  });
});
