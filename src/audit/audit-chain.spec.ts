import {
  canonicalContent,
  canonicalFields,
  canonicalJson,
  ChainedContent,
  chainHash,
  ChainWalker,
  GENESIS_HASH,
  StoredEntry,
} from './audit-chain';

function entry(id: string, overrides: Partial<ChainedContent> = {}): ChainedContent {
  return {
    id,
    occurredAt: new Date('2026-01-02T03:04:05.678Z'),
    actorId: null,
    actorIp: '127.0.0.1',
    userAgent: 'jest',
    action: 'auth.login',
    resourceType: 'user',
    resourceId: 'u1',
    caseId: null,
    outcome: 'success',
    details: { b: 1, a: { d: [1, 2], c: 'x' } },
    requestId: 'r1',
    ...overrides,
  };
}

function chain(count: number): StoredEntry[] {
  let prev = GENESIS_HASH;
  return Array.from({ length: count }, (_, i) => {
    const content = entry(String(i + 1));
    const hash = chainHash(prev, content);
    const linked = { ...canonicalFields(content), prevHash: prev, hash };
    prev = hash;
    return linked;
  });
}

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    expect(canonicalJson({ b: 1, a: { y: 2, x: [3, { q: 1, p: 2 }] } })).toBe(
      canonicalJson({ a: { x: [3, { p: 2, q: 1 }], y: 2 }, b: 1 }),
    );
  });

  it('writes dates as ISO strings and drops undefined members', () => {
    expect(canonicalJson({ at: new Date(0), gone: undefined })).toBe(
      '{"at":"1970-01-01T00:00:00.000Z"}',
    );
  });
});

describe('ChainWalker', () => {
  it('accepts an intact chain', () => {
    const walker = new ChainWalker(GENESIS_HASH);
    chain(5).forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: true, checked: 5 });
  });

  it('finds an edited entry', () => {
    const entries = chain(5);
    entries[2] = { ...entries[2]!, details: '{"tampered":true}' };
    const walker = new ChainWalker(GENESIS_HASH);
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: false, checked: 3, firstBrokenId: '3' });
  });

  it('finds an entry moved by one millisecond', () => {
    const entries = chain(3);
    entries[1] = { ...entries[1]!, occurredAt: '2026-01-02T03:04:05.679Z' };
    const walker = new ChainWalker(GENESIS_HASH);
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: false, checked: 2, firstBrokenId: '2' });
  });

  it('finds an entry whose stored link was edited, even though its hash holds', () => {
    const entries = chain(3);
    entries[1] = { ...entries[1]!, prevHash: GENESIS_HASH };
    entries[1] = { ...entries[1], hash: chainHash(GENESIS_HASH, entry('2')) };
    const walker = new ChainWalker(GENESIS_HASH);
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: false, checked: 2, firstBrokenId: '2' });
  });

  it('finds a deleted entry at its successor', () => {
    const entries = chain(5);
    entries.splice(1, 1);
    const walker = new ChainWalker(GENESIS_HASH);
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict.firstBrokenId).toBe('3');
  });

  it('finds reordered entries', () => {
    const entries = chain(4);
    [entries[1], entries[2]] = [entries[2]!, entries[1]!];
    const walker = new ChainWalker(GENESIS_HASH);
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict.valid).toBe(false);
  });
});

describe('canonicalContent', () => {
  it('writes exactly what the generic canonical JSON writes, nulls and odd strings included', () => {
    const samples: ChainedContent[] = [
      entry('1'),
      entry('2', {
        actorId: 'a',
        actorIp: null,
        userAgent: 'quote " and \\ and \u2028',
        caseId: 'c',
        requestId: null,
      }),
      entry('3', { details: {}, resourceType: null, resourceId: null, outcome: 'failure' }),
    ];
    for (const sample of samples) {
      const {
        id,
        occurredAt,
        actorId,
        actorIp,
        userAgent,
        action,
        resourceType,
        resourceId,
        caseId,
        outcome,
        details,
        requestId,
      } = sample;
      expect(canonicalContent(sample)).toBe(
        canonicalJson({
          id,
          occurredAt,
          actorId,
          actorIp,
          userAgent,
          action,
          resourceType,
          resourceId,
          caseId,
          outcome,
          details,
          requestId,
        }),
      );
    }
  });
});
