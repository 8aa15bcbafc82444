import { Reflector } from '@nestjs/core';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { AccessExplainService } from '../../src/auth/access-explain.service';
import { JwtStrategy } from '../../src/auth/strategies/jwt.strategy';
import { UsersRepository } from '../../src/auth/users.repository';
import type { AccessLevel } from '../../src/core/access/access-decision';
import type { AccessVerdict } from '../../src/core/access/access-explain';
import { AccessService } from '../../src/core/access/access.service';
import { ForbiddenProblem, NotFoundProblem } from '../../src/core/http/problem.exception';
import { RequestContext } from '../../src/core/http/request-context';
import { AccessGuard } from '../../src/core/security/access.guard';
import { AuthFailureLimiter } from '../../src/core/security/auth-failure-limiter';
import { Permission, PERMISSIONS } from '../../src/core/security/permissions';
import { AccessWorld } from '../support/access-world';
import {
  createRole,
  createUser,
  login,
  loginAsAdmin,
  Session,
  startApp,
  TestApp,
} from '../support/app';

type Participation = 'lead' | 'member' | 'viewer' | null;

/**
 * TARGETS P14: permission explain agrees with the access guard. Random (user, case,
 * permission, level) quadruples over users of every built-in role, inheriting and empty
 * custom roles and a deactivated user, on cases they lead, join, view, do not join, a
 * deleted case and a missing one. The guard's verdict comes from the guard's own code
 * (the token strategy's `validate`, then `AccessGuard.authorize`); explain's from its
 * service. Then one real HTTP request per verdict proves the guard answers so on a route.
 */
describe('Permission explain agrees with the guard (P14)', () => {
  let t: TestApp;
  let admin: Session;
  let explainer: AccessExplainService;
  let guard: AccessGuard;
  let jwt: JwtStrategy;
  let users: UsersRepository;
  const people: { id: string; session: Session; label: string }[] = [];
  const cases: { id: string; label: string }[] = [];
  const LEVELS: AccessLevel[] = ['read', 'write', 'manage'];

  beforeAll(async () => {
    t = await startApp();
    admin = await loginAsAdmin(t.http);
    explainer = t.app.get(AccessExplainService);
    jwt = t.app.get(JwtStrategy);
    users = t.app.get(UsersRepository);
    guard = new AccessGuard(
      t.app.get(Reflector),
      t.app.get(AccessService),
      t.app.get(RequestContext),
      t.app.get(AuthFailureLimiter),
    );
    const inheriting = await createRole(t.http, admin, ['audio:*'], 'case_worker');
    const grandchild = await createRole(t.http, admin, ['stats:read'], inheriting.name);
    const empty = await createRole(t.http, admin, []);
    const seesAll = await createRole(t.http, admin, ['cases:all', 'audit:read']);
    const roles = [
      'admin',
      'supervisor',
      'case_worker',
      'case_worker',
      'processor',
      'auditor',
      inheriting.name,
      grandchild.name,
      empty.name,
      seesAll.name,
      'case_worker',
    ];
    for (const [i, role] of roles.entries()) {
      const user = await createUser(t.http, admin, role);
      people.push({
        id: user.id,
        session: await login(t.http, user.username, user.password),
        label: `${role}#${i}`,
      });
    }
    // The last one is deactivated after signing in: its token now answers 401.
    await t.http
      .patch(`/api/v1/users/${people.at(-1)!.id}`)
      .set(admin.auth)
      .send({ isActive: false })
      .expect(200);

    const world = new AccessWorld(t.db);
    const standings: Participation[] = ['lead', 'member', 'viewer', null];
    for (let c = 0; c < 4; c++) {
      const id = await world.case(admin.userId);
      cases.push({ id, label: `case ${c}` });
      for (const [i, person] of people.entries()) {
        const standing = standings[(i + c) % standings.length]!;
        if (standing) await world.participant(id, person.id, standing);
      }
    }
    const deleted = await world.case(admin.userId, { deleted: true });
    await world.participant(deleted, people[2]!.id, 'lead');
    cases.push({ id: deleted, label: 'deleted case' }, { id: randomUUID(), label: 'missing case' });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  /** What the guard does: authenticate as the token strategy does, then authorize. */
  async function guardVerdict(
    userId: string,
    caseId: string,
    permission: Permission,
    level: AccessLevel | null,
  ): Promise<AccessVerdict> {
    const principal = await users.findPrincipal(userId, null);
    // A token as the app signs it: an expiry in the future (the strategy checks `exp` itself).
    const actor = await jwt.validate({
      sub: userId,
      tokenVersion: principal!.tokenVersion,
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    if (!actor) return 'unauthenticated';
    // Without an explicit level the route's method decides: reads are GETs, the rest not.
    const method = permission.endsWith(':read') ? 'GET' : 'POST';
    try {
      await guard.authorize(
        actor,
        { permission, resource: 'case', ...(level ? { access: level } : {}) },
        { method, params: { id: caseId } },
      );
      return 'allowed';
    } catch (error) {
      if (error instanceof NotFoundProblem) return 'invisible';
      if (error instanceof ForbiddenProblem) return 'forbidden';
      throw error;
    }
  }

  it('agrees on 1,000 random (user, case, permission) triples', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(people.length - 1),
        fc.nat(cases.length - 1),
        fc.constantFrom(...PERMISSIONS),
        fc.option(fc.constantFrom(...LEVELS), { nil: null }),
        async (userIndex, caseIndex, permission, level) => {
          const person = people[userIndex]!;
          const target = cases[caseIndex]!;
          const expected = await guardVerdict(person.id, target.id, permission, level);
          const explained = await explainer.explain({
            userId: person.id,
            caseId: target.id,
            permission,
            ...(level ? { access: level } : {}),
          });
          expect({
            person: person.label,
            case: target.label,
            decision: explained.decision,
          }).toEqual({ person: person.label, case: target.label, decision: expected });
          expect(explained.allowed).toBe(expected === 'allowed');
        },
      ),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('answers the same over HTTP, one request per verdict (GET /cases/:id needs cases:read)', async () => {
    const status: Record<AccessVerdict, number> = {
      allowed: 200,
      unauthenticated: 401,
      forbidden: 403,
      invisible: 404,
    };
    // Every (user, case) pair on cases:read, which the fixtures make produce every verdict.
    const seen = new Map<
      AccessVerdict,
      { person: (typeof people)[number]; target: (typeof cases)[number] }
    >();
    for (const person of people) {
      for (const target of cases) {
        const verdict = await guardVerdict(person.id, target.id, 'cases:read', null);
        seen.set(verdict, { person, target });
      }
    }
    for (const [verdict, { person, target }] of seen) {
      const explained = await t.http
        .get('/api/v1/admin/access/explain')
        .set(admin.auth)
        .query({ userId: person.id, caseId: target.id, permission: 'cases:read' })
        .expect(200);
      expect((explained.body as { decision: string }).decision).toBe(verdict);
      const response = await t.http.get(`/api/v1/cases/${target.id}`).set(person.session.auth);
      expect({ verdict, status: response.status }).toEqual({ verdict, status: status[verdict] });
    }
    expect([...seen.keys()].sort()).toEqual(
      ['allowed', 'forbidden', 'invisible', 'unauthenticated'].sort(),
    );
  });
});
