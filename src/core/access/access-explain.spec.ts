import { checkPermissions, explainAccess, ExplainSubject } from './access-explain';

const subject = (overrides: Partial<ExplainSubject> = {}): ExplainSubject => ({
  userId: '00000000-0000-4000-8000-000000000001',
  active: true,
  grants: ['cases:read', 'cases:write'],
  roles: [{ name: 'worker', permissions: ['cases:read', 'cases:write'] }],
  loginLockedMs: 0,
  ...overrides,
});

describe('checkPermissions', () => {
  it('names the grant that covers each permission, wildcards included', () => {
    expect(
      checkPermissions(['audio:*', 'cases:read'], { permissions: ['audio:read', 'cases:read'] }),
    ).toEqual({
      ok: true,
      matched: [
        { permission: 'audio:read', grant: 'audio:*' },
        { permission: 'cases:read', grant: 'cases:read' },
      ],
    });
  });

  it('refuses with the first missing permission, or none of anyPermission', () => {
    expect(
      checkPermissions(['cases:read'], { permissions: ['cases:read', 'cases:write'] }),
    ).toEqual({
      ok: false,
      message: 'Your role does not grant cases:write.',
      missing: ['cases:write'],
    });
    expect(
      checkPermissions(['cases:read'], {
        permissions: [],
        anyPermission: ['audit:read', 'users:manage'],
      }),
    ).toMatchObject({ ok: false, message: 'Your role grants none of audit:read, users:manage.' });
  });
});

describe('explainAccess', () => {
  it('stops at a deactivated account: 401, later steps skipped', () => {
    const result = explainAccess(subject({ active: false }), { permissions: ['cases:read'] });
    expect(result.decision).toBe('unauthenticated');
    expect(result.reasons.map((r) => r.outcome)).toEqual(['fail', 'skip', 'skip', 'skip']);
  });

  it.each([
    ['lead', 'manage', 'allowed'],
    ['viewer', 'write', 'forbidden'],
    [null, 'read', 'invisible'],
    [undefined, 'read', 'invisible'],
  ] as const)('a participant %s asking %s: %s', (standing, level, decision) => {
    const result = explainAccess(
      subject(),
      { permissions: ['cases:read'] },
      {
        kind: 'case',
        standing,
        level,
      },
    );
    expect(result).toMatchObject({ decision, allowed: decision === 'allowed' });
  });

  it('cases:all opens an existing case, never a missing one', () => {
    const all = subject({ grants: ['*'], roles: [{ name: 'admin', permissions: ['*'] }] });
    const open = explainAccess(
      all,
      { permissions: ['cases:delete'] },
      {
        kind: 'case',
        standing: null,
        level: 'manage',
      },
    );
    expect(open.decision).toBe('allowed');
    expect(open.reasons[3]!.detail).toBe('cases:all (wildcard * in role admin) opens every case');
    expect(
      explainAccess(all, { permissions: [] }, { kind: 'case', standing: undefined, level: 'read' })
        .decision,
    ).toBe('invisible');
  });
});
