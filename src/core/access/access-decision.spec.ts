import type { Actor } from '../security/actor';
import { accessScope, AccessLevel, decide, Standing } from './access-decision';

const actor = (grants: string[]): Actor => ({
  userId: '00000000-0000-4000-8000-000000000001',
  username: 'someone',
  role: 'r',
  grants,
  via: 'access-token',
});

describe('decide', () => {
  const LEVELS: AccessLevel[] = ['read', 'write', 'manage'];
  const table: [Standing, string[]][] = [
    ['lead', ['allowed', 'allowed', 'allowed']],
    ['owner', ['allowed', 'allowed', 'allowed']],
    ['member', ['allowed', 'allowed', 'forbidden']],
    ['viewer', ['allowed', 'forbidden', 'forbidden']],
    [null, ['invisible', 'invisible', 'invisible']],
    [undefined, ['invisible', 'invisible', 'invisible']],
  ];

  it.each(table)('a participant %s without cases:all: %j', (standing, expected) => {
    expect(
      LEVELS.map((level) => decide(actor(['cases:read', 'cases:write']), standing, level)),
    ).toEqual(expected);
  });

  it.each(table)('cases:all opens every existing resource (standing %s)', (standing) => {
    const expected = standing === undefined ? 'invisible' : 'allowed';
    for (const grants of [['cases:all'], ['cases:*'], ['*']]) {
      for (const level of LEVELS) expect(decide(actor(grants), standing, level)).toBe(expected);
    }
  });

  it('decides the same from an actor and from its scope', () => {
    for (const grants of [[], ['cases:all'], ['cases:read']]) {
      const a = actor(grants);
      for (const [standing] of table) {
        for (const level of LEVELS) {
          expect(decide(accessScope(a), standing, level)).toBe(decide(a, standing, level));
        }
      }
    }
  });
});
