import { claimAt, mapRole } from './oidc.service';

describe('OIDC role mapping', () => {
  const map = { admins: 'admin', staff: 'case_worker' };

  it('takes the first map entry whose group the user has, whatever the claim order', () => {
    expect(mapRole({ groups: ['staff', 'admins'] }, 'groups', map, undefined)).toBe('admin');
    expect(mapRole({ groups: ['staff'] }, 'groups', map, undefined)).toBe('case_worker');
  });

  it('falls back to the default role, else null (refused)', () => {
    expect(mapRole({ groups: ['other'] }, 'groups', map, 'auditor')).toBe('auditor');
    expect(mapRole({}, 'groups', map, undefined)).toBeNull();
    expect(mapRole({ groups: [1, null] }, 'groups', map, undefined)).toBeNull();
  });

  it('reads a single string, a URL-named claim and a dotted path', () => {
    expect(mapRole({ groups: 'staff' }, 'groups', map, undefined)).toBe('case_worker');
    const url = 'https://example.com/claims/groups';
    expect(mapRole({ [url]: ['admins'] }, url, map, undefined)).toBe('admin');
    expect(claimAt({ realm_access: { roles: ['staff'] } }, 'realm_access.roles')).toEqual([
      'staff',
    ]);
    expect(claimAt({ realm_access: 'x' }, 'realm_access.roles')).toBeUndefined();
  });
});
