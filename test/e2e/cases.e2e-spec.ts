import { loginAsAdmin, Session, startApp, TestApp, userSession } from '../support/app';

describe('Cases (SPEC section 3)', () => {
  let t: TestApp;
  let admin: Session;
  let worker: Session;

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    worker = await userSession(t.http, admin, 'case_worker');
  });
  afterAll(() => t.close());

  const createCase = async (session: Session, body: Record<string, unknown> = {}) =>
    (
      await t.http
        .post('/api/v1/cases')
        .set(session.auth)
        .send({ title: 'A case', ...body })
        .expect(201)
    ).body as {
      id: string;
      caseCode: string;
      version: number;
    };

  describe('creating', () => {
    it('generates CASE-YYYY-NNNNNN codes, answers 201 with Location and ETag, and makes the creator lead', async () => {
      const response = await t.http
        .post('/api/v1/cases')
        .set(worker.auth)
        .send({
          title: 'Burglary at the docks',
          description: 'Witness statements pending',
          priority: 'high',
        })
        .expect(201);
      expect(response.body.caseCode).toMatch(
        new RegExp(`^CASE-${new Date().getUTCFullYear()}-\\d{6}$`),
      );
      expect(response.headers.location).toBe(`/api/v1/cases/${response.body.id}`);
      expect(response.headers.etag).toBe('"1"');
      expect(response.body).toMatchObject({
        status: 'active',
        priority: 'high',
        createdBy: worker.userId,
        closedAt: null,
      });
      const participants = await t.http
        .get(`/api/v1/cases/${response.body.id}/participants`)
        .set(worker.auth)
        .expect(200);
      expect(participants.body.data).toEqual([
        expect.objectContaining({ userId: worker.userId, role: 'lead' }),
      ]);
    });

    it('gives 20 parallel creates 20 distinct codes', async () => {
      const created = await Promise.all(Array.from({ length: 20 }, () => createCase(worker)));
      expect(new Set(created.map((c) => c.caseCode)).size).toBe(20);
    });

    it('accepts a client caseCode once and answers 409 for a duplicate', async () => {
      const code = `CLIENT-${Date.now()}`;
      await createCase(worker, { caseCode: code });
      const duplicate = await t.http
        .post('/api/v1/cases')
        .set(worker.auth)
        .send({ title: 'x', caseCode: code })
        .expect(409);
      expect(duplicate.body.type).toMatch(/duplicate-case-code$/);
    });

    it('rejects forbidden fields such as createdBy and closedAt', async () => {
      const response = await t.http
        .post('/api/v1/cases')
        .set(worker.auth)
        .send({ title: 'x', createdBy: admin.userId, closedAt: new Date().toISOString() })
        .expect(400);
      expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'closedAt',
        'createdBy',
      ]);
    });
  });

  describe('optimistic concurrency', () => {
    it('lets one of two PATCHes with the same ETag win; the other gets 412', async () => {
      const created = await createCase(worker);
      const results = await Promise.all(
        ['first', 'second'].map((title) =>
          t.http
            .patch(`/api/v1/cases/${created.id}`)
            .set(worker.auth)
            .set('If-Match', '"1"')
            .send({ title }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = results.find((r) => r.status === 200)!;
      expect(winner.headers.etag).toBe('"2"');
    });
  });

  describe('input hygiene', () => {
    it.each(['status', 'priority', 'title', 'description'])(
      'F9: PATCH with %s: null is a 400 naming the field and changes nothing',
      async (field) => {
        const created = await createCase(worker, { description: 'kept' });
        const before = await t.http.get(`/api/v1/cases/${created.id}`).set(worker.auth);
        const response = await t.http
          .patch(`/api/v1/cases/${created.id}`)
          .set(worker.auth)
          .send({ [field]: null });
        expect(response.status).toBe(400);
        expect(response.headers['content-type']).toMatch(/problem\+json/);
        expect(response.body.errors).toEqual(
          expect.arrayContaining([{ field, message: expect.stringContaining('must not be null') }]),
        );
        const after = await t.http.get(`/api/v1/cases/${created.id}`).set(worker.auth);
        expect(after.body).toEqual(before.body);
      },
    );

    it.each([
      ['ESC', 'title', 'a\u001b[31mred'],
      ['BEL', 'title', 'ring\u0007'],
      ['a C1 control', 'title', 'x\u009by'],
      ['RIGHT-TO-LEFT OVERRIDE', 'title', 'invoice\u202Efdp.exe'],
      ['LEFT-TO-RIGHT ISOLATE', 'description', 'a\u2066b'],
      ['ESC', 'description', 'line\u001b'],
    ])('refuses %s in %s (no control or bidi-override characters)', async (_, field, value) => {
      const refused = await t.http
        .post('/api/v1/cases')
        .set(worker.auth)
        .send({ title: 'ok', [field]: value })
        .expect(400);
      expect(refused.body.errors).toEqual([
        { field, message: expect.stringContaining('control or bidirectional-override') },
      ]);
    });

    it('keeps line breaks and tabs in multi-line fields, not in one-line fields', async () => {
      await createCase(worker, { description: 'first line\r\nsecond\tline' });
      await t.http.post('/api/v1/cases').set(worker.auth).send({ title: 'two\nlines' }).expect(400);
    });
  });

  describe('state transitions', () => {
    it('closes (setting closedAt), refuses a second close, and reopens (clearing it)', async () => {
      const created = await createCase(worker);
      const closed = await t.http
        .post(`/api/v1/cases/${created.id}/close`)
        .set(worker.auth)
        .expect(200);
      expect(closed.body.status).toBe('closed');
      expect(Date.parse(closed.body.closedAt)).not.toBeNaN();
      await t.http.post(`/api/v1/cases/${created.id}/close`).set(worker.auth).expect(409);
      await t.http
        .patch(`/api/v1/cases/${created.id}`)
        .set(worker.auth)
        .send({ title: 'x' })
        .expect(409);
      const reopened = await t.http
        .post(`/api/v1/cases/${created.id}/reopen`)
        .set(worker.auth)
        .expect(200);
      expect(reopened.body).toMatchObject({ status: 'active', closedAt: null });
      await t.http.post(`/api/v1/cases/${created.id}/reopen`).set(worker.auth).expect(409);
    });
  });

  describe('listing and search', () => {
    it('finds cases by words in title, description and notes, ranked, only among visible ones', async () => {
      const word = `zebra${Date.now()}`;
      const inTitle = await createCase(worker, { title: `The ${word} crossing` });
      const inNote = await createCase(worker, { title: 'Unrelated' });
      await t.http
        .post(`/api/v1/cases/${inNote.id}/notes`)
        .set(worker.auth)
        .send({ body: `Saw a ${word} nearby` })
        .expect(201);
      const other = await userSession(t.http, admin, 'case_worker');
      await createCase(other, { title: `Secret ${word}` });

      const found = await t.http
        .get('/api/v1/cases')
        .query({ q: word })
        .set(worker.auth)
        .expect(200);
      expect(found.body.data.map((c: { id: string }) => c.id)).toEqual([inTitle.id, inNote.id]);
      expect(found.body.meta).toEqual({ page: 1, limit: 20, total: 2 });

      const asSupervisor = await userSession(t.http, admin, 'supervisor');
      const all = await t.http
        .get('/api/v1/cases')
        .query({ q: word })
        .set(asSupervisor.auth)
        .expect(200);
      expect(all.body.meta.total).toBe(3);
    });

    it('never answers 500 to SQL or tsquery syntax in q', async () => {
      for (const q of [
        "'; DROP TABLE cases; --",
        '!!&&||(',
        'a:*',
        '"unclosed',
        '\\',
        'or or -',
        '<->',
      ]) {
        const response = await t.http.get('/api/v1/cases').query({ q }).set(worker.auth);
        expect([200, 400]).toContain(response.status);
      }
    });

    it('sorts by priority weight and paginates', async () => {
      const session = await userSession(t.http, admin, 'case_worker');
      for (const priority of ['low', 'high', 'medium']) await createCase(session, { priority });
      const sorted = await t.http
        .get('/api/v1/cases')
        .query({ sort: '-priority', limit: 2 })
        .set(session.auth)
        .expect(200);
      expect(sorted.body.data.map((c: { priority: string }) => c.priority)).toEqual([
        'high',
        'medium',
      ]);
      expect(sorted.body.meta).toEqual({ page: 1, limit: 2, total: 3 });
      const page2 = await t.http
        .get('/api/v1/cases')
        .query({ sort: '-priority', limit: 2, page: 2 })
        .set(session.auth)
        .expect(200);
      expect(page2.body.data.map((c: { priority: string }) => c.priority)).toEqual(['low']);
      await t.http.get('/api/v1/cases').query({ limit: 101 }).set(session.auth).expect(400);
      await t.http.get('/api/v1/cases').query({ sort: 'title' }).set(session.auth).expect(400);
    });
  });

  describe('participants', () => {
    it('refuses to remove the last lead', async () => {
      const created = await createCase(worker);
      const response = await t.http
        .delete(`/api/v1/cases/${created.id}/participants/${worker.userId}`)
        .set(worker.auth)
        .expect(409);
      expect(response.body.type).toMatch(/last-lead$/);
    });
  });

  describe('changing a participant role', () => {
    /** A case led by `worker` with a fresh member; returns both ids. */
    async function caseWithMember(): Promise<{ caseId: string; member: Session }> {
      const created = await createCase(worker);
      const member = await userSession(t.http, admin, 'case_worker');
      await t.http
        .post(`/api/v1/cases/${created.id}/participants`)
        .set(worker.auth)
        .send({ userId: member.userId, role: 'member' })
        .expect(201);
      return { caseId: created.id, member };
    }
    const participantsOf = async (caseId: string) =>
      (await t.http.get(`/api/v1/cases/${caseId}/participants`).set(worker.auth).expect(200)).body
        .data as { userId: string; role: string; addedBy: string; addedAt: string }[];
    const actionsOf = async (caseId: string) =>
      (
        (await t.http.get(`/api/v1/cases/${caseId}/activity`).set(worker.auth).expect(200)).body
          .data as { action: string; resourceId: string; details: Record<string, unknown> }[]
      ).map((e) => e.action);

    it('changes the role in place, keeps who added them and when, audits it, and takes effect at once', async () => {
      const { caseId, member } = await caseWithMember();
      const before = (await participantsOf(caseId)).find((p) => p.userId === member.userId)!;
      // As a member, writing to the case is allowed…
      await t.http
        .post(`/api/v1/cases/${caseId}/notes`)
        .set(member.auth)
        .send({ body: 'before' })
        .expect(201);
      const response = await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(worker.auth)
        .send({ role: 'viewer' })
        .expect(200);
      expect(response.body).toEqual({ ...before, role: 'viewer' });
      expect((await participantsOf(caseId)).find((p) => p.userId === member.userId)).toEqual({
        ...before,
        role: 'viewer',
      });
      // …and as a viewer it is not, on the very next request.
      await t.http
        .post(`/api/v1/cases/${caseId}/notes`)
        .set(member.auth)
        .send({ body: 'after' })
        .expect(403);
      await t.http.get(`/api/v1/cases/${caseId}`).set(member.auth).expect(200);
      const activity = (
        await t.http.get(`/api/v1/cases/${caseId}/activity`).set(worker.auth).expect(200)
      ).body.data as { action: string; resourceId: string; details: Record<string, unknown> }[];
      expect(activity.at(-1)).toMatchObject({
        action: 'case.participant_role_changed',
        resourceId: member.userId,
        details: { from: 'member', to: 'viewer' },
      });
    });

    it('answers 404 for a user who does not participate, and changes nothing', async () => {
      const { caseId } = await caseWithMember();
      const outsider = await userSession(t.http, admin, 'case_worker');
      const response = await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${outsider.userId}`)
        .set(worker.auth)
        .send({ role: 'viewer' })
        .expect(404);
      expect(response.body.type).toMatch(/not-participant$/);
      expect((await participantsOf(caseId)).map((p) => p.userId)).not.toContain(outsider.userId);
      expect(await actionsOf(caseId)).not.toContain('case.participant_role_changed');
    });

    it.each([
      ['an unknown role', { role: 'owner' }],
      ['no role', {}],
      ['an extra field', { role: 'viewer', addedBy: '00000000-0000-4000-8000-000000000000' }],
    ])('answers 400 for %s, and changes nothing', async (_, body) => {
      const { caseId, member } = await caseWithMember();
      const before = await participantsOf(caseId);
      const response = await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(worker.auth)
        .send(body)
        .expect(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await participantsOf(caseId)).toEqual(before);
      expect(await actionsOf(caseId)).not.toContain('case.participant_role_changed');
    });

    it('answers 400 for a malformed user id', async () => {
      const { caseId } = await caseWithMember();
      await t.http
        .patch(`/api/v1/cases/${caseId}/participants/not-a-uuid`)
        .set(worker.auth)
        .send({ role: 'viewer' })
        .expect(400);
    });

    it('refuses to demote the last lead, and allows it once another lead exists', async () => {
      const { caseId, member } = await caseWithMember();
      const refused = await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${worker.userId}`)
        .set(worker.auth)
        .send({ role: 'member' })
        .expect(409);
      expect(refused.body.type).toMatch(/last-lead$/);
      await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(worker.auth)
        .send({ role: 'lead' })
        .expect(200);
      await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${worker.userId}`)
        .set(worker.auth)
        .send({ role: 'member' })
        .expect(200);
      // The former lead can no longer manage participants.
      await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(worker.auth)
        .send({ role: 'viewer' })
        .expect(403);
    });

    it('records nothing when the role is already the one asked for', async () => {
      const { caseId, member } = await caseWithMember();
      await t.http
        .patch(`/api/v1/cases/${caseId}/participants/${member.userId}`)
        .set(worker.auth)
        .send({ role: 'member' })
        .expect(200);
      expect(await actionsOf(caseId)).not.toContain('case.participant_role_changed');
    });
  });

  describe('soft delete', () => {
    it('hides a deleted case from everyone', async () => {
      const supervisor = await userSession(t.http, admin, 'supervisor');
      const created = await createCase(supervisor);
      await t.http.delete(`/api/v1/cases/${created.id}`).set(supervisor.auth).expect(204);
      await t.http.get(`/api/v1/cases/${created.id}`).set(supervisor.auth).expect(404);
    });
  });

  describe('activity and lookups', () => {
    it('lists the audit entries of a case', async () => {
      const created = await createCase(worker);
      await t.http
        .post(`/api/v1/cases/${created.id}/notes`)
        .set(worker.auth)
        .send({ body: 'hello' })
        .expect(201);
      const activity = await t.http
        .get(`/api/v1/cases/${created.id}/activity`)
        .set(worker.auth)
        .expect(200);
      expect(activity.body.data.map((e: { action: string }) => e.action)).toEqual([
        'case.create',
        'case.note_add',
      ]);
    });

    it("shows callers' address and user agent only to audit:read", async () => {
      const created = await createCase(worker);
      const viewer = await userSession(t.http, admin, 'case_worker');
      await t.http
        .post(`/api/v1/cases/${created.id}/participants`)
        .set(worker.auth)
        .set('User-Agent', 'private-agent/1.0')
        .send({ userId: viewer.userId, role: 'viewer' })
        .expect(201);
      const seen = await t.http
        .get(`/api/v1/cases/${created.id}/activity`)
        .set(viewer.auth)
        .expect(200);
      expect(seen.body.data.length).toBeGreaterThan(0);
      for (const entry of seen.body.data) {
        expect(entry).not.toHaveProperty('actorIp');
        expect(entry).not.toHaveProperty('userAgent');
      }
      expect(JSON.stringify(seen.body)).not.toContain('private-agent');
      const auditor = await userSession(t.http, admin, 'auditor');
      const full = await t.http
        .get(`/api/v1/cases/${created.id}/activity`)
        .set(auditor.auth)
        .expect(200);
      const added = full.body.data.find(
        (e: { action: string }) => e.action === 'case.participant_add',
      );
      expect(added).toMatchObject({ userAgent: 'private-agent/1.0', actorIp: expect.any(String) });
    });

    it('serves every lookup', async () => {
      const response = await t.http.get('/api/v1/lookups').set(worker.auth).expect(200);
      expect(response.body.casePriorities.map((p: { code: string }) => p.code)).toEqual([
        'high',
        'medium',
        'low',
      ]);
      expect(response.body.caseStatuses).toHaveLength(3);
      expect(response.body.languages.length).toBeGreaterThan(3);
    });
  });
});
