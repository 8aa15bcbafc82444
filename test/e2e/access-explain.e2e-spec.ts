import { randomUUID } from 'node:crypto';
import { AccessWorld } from '../support/access-world';
import {
  createRole,
  createUser,
  expectProblem,
  loginAsAdmin,
  randomIp,
  Session,
  startApp,
  TestApp,
  userSession,
} from '../support/app';

interface Explanation {
  allowed: boolean;
  decision: string;
  reasons: { step: string; outcome: string; detail: string }[];
}

/** GET /admin/access/explain (SPEC section 13): who may ask, and what it answers. */
describe('Permission explain (SPEC section 13)', () => {
  let t: TestApp;
  let admin: Session;
  let world: AccessWorld;

  beforeAll(async () => {
    t = await startApp({ LOGIN_MAX_FAILURES: '2' });
    admin = await loginAsAdmin(t.http);
    world = new AccessWorld(t.db);
  });

  afterAll(async () => {
    await t?.close();
  });

  const explain = (session: Session, query: Record<string, string>) =>
    t.http.get('/api/v1/admin/access/explain').set(session.auth).query(query);

  it('answers an admin and an auditor (audit:read) step by step', async () => {
    const parent = await createRole(t.http, admin, ['cases:*']);
    const child = await createRole(t.http, admin, ['audio:read'], parent.name);
    const user = await createUser(t.http, admin, child.name);
    const caseId = await world.case(admin.userId);
    const auditor = await userSession(t.http, admin, 'auditor');
    for (const session of [admin, auditor]) {
      const response = await explain(session, {
        userId: user.id,
        caseId,
        permission: 'cases:write',
      }).expect(200);
      const body = response.body as Explanation;
      expect(body).toMatchObject({ allowed: true, decision: 'allowed' });
      expect(body.reasons.map((r) => [r.step, r.outcome])).toEqual([
        ['account', 'pass'],
        ['role', 'pass'],
        ['permission', 'pass'],
        ['resource', 'pass'],
      ]);
      const detail = (step: string) => body.reasons.find((r) => r.step === step)!.detail;
      expect(detail('role')).toContain(`role ${child.name}, inheriting ${parent.name}`);
      expect(detail('permission')).toBe(
        `cases:write granted by wildcard cases:* in role ${parent.name}`,
      );
      expect(detail('resource')).toContain('cases:all (wildcard cases:* in role');
    }
  });

  it('names the participant role, and says 403 for a viewer who would write', async () => {
    const worker = await createUser(t.http, admin, 'case_worker');
    const caseId = await world.case(admin.userId);
    await world.participant(caseId, worker.id, 'viewer');
    const read = (
      await explain(admin, { userId: worker.id, caseId, permission: 'cases:read' }).expect(200)
    ).body as Explanation;
    expect(read).toMatchObject({ allowed: true, decision: 'allowed' });
    expect(read.reasons[3]).toEqual({
      step: 'resource',
      outcome: 'pass',
      detail: 'participant as viewer; read needs lead, member or viewer',
    });
    const write = (
      await explain(admin, { userId: worker.id, caseId, permission: 'cases:write' }).expect(200)
    ).body as Explanation;
    expect(write).toMatchObject({ allowed: false, decision: 'forbidden' });
    expect(write.reasons[3]).toMatchObject({ step: 'resource', outcome: 'fail' });
    const manage = (
      await explain(admin, {
        userId: worker.id,
        caseId,
        permission: 'cases:read',
        access: 'manage',
      }).expect(200)
    ).body as Explanation;
    expect(manage.decision).toBe('forbidden');
  });

  it('explains 404s: an unknown case and a case the user does not take part in', async () => {
    const worker = await createUser(t.http, admin, 'case_worker');
    const other = await world.case(admin.userId);
    for (const caseId of [randomUUID(), other]) {
      const body = (
        await explain(admin, { userId: worker.id, caseId, permission: 'cases:read' }).expect(200)
      ).body as Explanation;
      expect(body).toMatchObject({ allowed: false, decision: 'invisible' });
      expect(body.reasons[3]).toMatchObject({ step: 'resource', outcome: 'fail' });
      expect(body.reasons[3]!.detail).toMatch(/404/);
    }
  });

  it('stops at the permission step when the role lacks it, and skips the resource', async () => {
    const worker = await createUser(t.http, admin, 'case_worker');
    const caseId = await world.case(admin.userId);
    const body = (
      await explain(admin, { userId: worker.id, caseId, permission: 'cases:delete' }).expect(200)
    ).body as Explanation;
    expect(body).toMatchObject({ allowed: false, decision: 'forbidden' });
    expect(body.reasons.map((r) => [r.step, r.outcome])).toEqual([
      ['account', 'pass'],
      ['role', 'pass'],
      ['permission', 'fail'],
      ['resource', 'skip'],
    ]);
    expect(body.reasons[2]!.detail).toBe('Your role does not grant cases:delete. (403)');
  });

  it('reports a deactivated account (401) and a locked password sign-in', async () => {
    const locked = await createUser(t.http, admin, 'case_worker');
    const ip = randomIp();
    for (let i = 0; i < 2; i++) {
      await t.http
        .post('/api/v1/auth/login')
        .set('X-Forwarded-For', ip)
        .send({ login: locked.username, password: 'wrong-password-123' })
        .expect(401);
    }
    const lockedBody = (
      await explain(admin, { userId: locked.id, permission: 'cases:read' }).expect(200)
    ).body as Explanation;
    expect(lockedBody).toMatchObject({ allowed: true, decision: 'allowed' });
    expect(lockedBody.reasons[0]!.detail).toMatch(/^active; password sign-in is locked for \d+ s/);
    expect(lockedBody.reasons[3]).toEqual({
      step: 'resource',
      outcome: 'skip',
      detail: 'no case given',
    });

    const gone = await createUser(t.http, admin, 'supervisor');
    await t.http
      .patch(`/api/v1/users/${gone.id}`)
      .set(admin.auth)
      .send({ isActive: false })
      .expect(200);
    const goneBody = (
      await explain(admin, { userId: gone.id, permission: 'cases:read' }).expect(200)
    ).body as Explanation;
    expect(goneBody).toMatchObject({ allowed: false, decision: 'unauthenticated' });
    expect(goneBody.reasons[0]).toMatchObject({ step: 'account', outcome: 'fail' });
  });

  it('is refused without users:manage or audit:read (403), and for an unknown user (404)', async () => {
    const worker = await userSession(t.http, admin, 'case_worker');
    expectProblem(await explain(worker, { userId: worker.userId, permission: 'cases:read' }), 403);
    expectProblem(await explain(admin, { userId: randomUUID(), permission: 'cases:read' }), 404);
  });

  it('refuses bad input with 400', async () => {
    const queries: Record<string, string>[] = [
      { permission: 'cases:read' },
      { userId: 'not-a-uuid', permission: 'cases:read' },
      { userId: admin.userId, permission: 'cases:fly' },
      { userId: admin.userId, permission: 'cases:*' },
      { userId: admin.userId, permission: 'cases:read', caseId: 'x' },
      { userId: admin.userId, permission: 'cases:read', access: 'all' },
    ];
    for (const query of queries) {
      expectProblem(await explain(admin, query), 400);
    }
  });
});
