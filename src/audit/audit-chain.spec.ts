import {
  canonicalContent,
  canonicalFields,
  canonicalJson,
  ChainedContent,
  chainHash,
  ChainWalker,
  describeBreak,
  GENESIS_HASH,
  HashVersion,
  StoredEntry,
} from './audit-chain';

function entry(id: string, overrides: Partial<ChainedContent> = {}): ChainedContent {
  return {
    id,
    seq: Number(id),
    hashVersion: 2,
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

/** `count` linked entries; the first `v1` of them of hash version 1 (from before seq). */
function chain(count: number, v1 = 0): StoredEntry[] {
  let prev = GENESIS_HASH;
  return Array.from({ length: count }, (_, i) => {
    const content = entry(String(i + 1), { hashVersion: i < v1 ? 1 : 2 });
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
    const walker = new ChainWalker();
    chain(5).forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: true, checked: 5 });
  });

  it('finds an edited entry', () => {
    const entries = chain(5);
    entries[2] = { ...entries[2]!, details: '{"tampered":true}' };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({
      valid: false,
      checked: 3,
      firstBrokenId: '3',
      reason: 'content',
    });
  });

  it('finds an entry moved by one millisecond', () => {
    const entries = chain(3);
    entries[1] = { ...entries[1]!, occurredAt: '2026-01-02T03:04:05.679Z' };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({
      valid: false,
      checked: 2,
      firstBrokenId: '2',
      reason: 'content',
    });
  });

  it('finds an entry whose stored link was edited, even though its hash holds', () => {
    const entries = chain(3);
    entries[1] = { ...entries[1]!, prevHash: GENESIS_HASH };
    entries[1] = { ...entries[1], hash: chainHash(GENESIS_HASH, entry('2')) };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({
      valid: false,
      checked: 2,
      firstBrokenId: '2',
      reason: 'link',
    });
  });

  it('F8: names a deleted entry as a gap in seq, at its successor', () => {
    const entries = chain(5);
    entries.splice(1, 2);
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({
      valid: false,
      checked: 2,
      firstBrokenId: '4',
      reason: 'seq_gap',
      expectedSeq: 2,
      foundSeq: 4,
    });
  });

  it('F8: names a gap even when the successor was re-linked and re-hashed over it', () => {
    const entries = chain(3);
    // The forger deletes entry 2 and makes entry 3 link to entry 1, with a valid hash.
    const relinked = chainHash(entries[0]!.hash, entry('3'));
    const forged = [entries[0]!, { ...entries[2]!, prevHash: entries[0]!.hash, hash: relinked }];
    const walker = new ChainWalker();
    forged.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '3', reason: 'seq_gap' });
  });

  it('F8: finds a seq edited to close a gap, because seq is inside the hash', () => {
    const entries = chain(4);
    entries.splice(1, 1);
    entries[1] = { ...entries[1]!, seq: 2 };
    entries[2] = { ...entries[2]!, seq: 3 };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '3', reason: 'link' });
    const unlinked = new ChainWalker();
    // Even with the link set right, the content no longer matches the hash.
    [entries[0]!, { ...entries[1], prevHash: entries[0]!.hash }].forEach((e) => unlinked.next(e));
    expect(unlinked.verdict).toMatchObject({ firstBrokenId: '3', reason: 'content' });
  });

  it('F8: names an entry appended again at the end, re-linked and re-hashed, as out of order', () => {
    const entries = chain(5);
    const head = entries[4]!;
    // A copy of entry 2 chained after the head by someone who can compute hashes.
    const replay = entry('6', { seq: 2 });
    entries.push({
      ...canonicalFields(replay),
      prevHash: head.hash,
      hash: chainHash(head.hash, replay),
    });
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({
      valid: false,
      checked: 6,
      firstBrokenId: '6',
      reason: 'seq_order',
      expectedSeq: 6,
      foundSeq: 2,
    });
  });

  it('F8: names the first of two swapped neighbours by their seq', () => {
    const entries = chain(4);
    [entries[1], entries[2]] = [entries[2]!, entries[1]!];
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({
      valid: false,
      firstBrokenId: '3',
      reason: 'seq_gap',
      expectedSeq: 2,
      foundSeq: 3,
    });
  });

  it('F8: starts a part of the chain from the entry before it', () => {
    const entries = chain(5);
    const before = entries[1]!;
    const walker = new ChainWalker({ hash: before.hash, seq: 2, hashVersion: 2 });
    entries.slice(2).forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: true, checked: 3 });
    const skipped = new ChainWalker({ hash: before.hash, seq: 2, hashVersion: 2 });
    entries.slice(3).forEach((e) => skipped.next(e));
    expect(skipped.verdict).toMatchObject({ reason: 'seq_gap', expectedSeq: 3, foundSeq: 4 });
  });

  it('F8: finds a chain whose first entries are missing: seq starts at 1', () => {
    const walker = new ChainWalker();
    chain(3)
      .slice(1)
      .forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '2', reason: 'seq_gap', expectedSeq: 1 });
  });
});

describe('ChainWalker across hash versions (entries from before seq existed)', () => {
  it('accepts version 1 entries followed by version 2 entries', () => {
    const walker = new ChainWalker();
    chain(6, 3).forEach((e) => walker.next(e));
    expect(walker.verdict).toEqual({ valid: true, checked: 6 });
  });

  it('checks seq of version 1 entries for gaps, though their hash does not cover it', () => {
    const entries = chain(4, 4);
    // Renumbering a version 1 entry leaves its hash valid...
    const renumbered = { ...entries[2]!, seq: 7 };
    expect(chainHash(renumbered.prevHash, { ...entry('3', { hashVersion: 1, seq: 7 }) })).toBe(
      renumbered.hash,
    );
    entries[2] = renumbered;
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    // ...but not its place in the sequence.
    expect(walker.verdict).toMatchObject({
      firstBrokenId: '3',
      reason: 'seq_gap',
      expectedSeq: 3,
      foundSeq: 7,
    });
  });

  it('finds a version 2 entry passed off as version 1 (its seq no longer hashed)', () => {
    const entries = chain(4, 2);
    entries[3] = { ...entries[3]!, hashVersion: 1 };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '4', reason: 'hash_version' });
  });

  it('finds a version 2 entry downgraded and re-hashed as version 1', () => {
    const entries = chain(4, 2);
    const downgraded = entry('4', { hashVersion: 1 });
    entries[3] = {
      ...canonicalFields(downgraded),
      prevHash: entries[2]!.hash,
      hash: chainHash(entries[2]!.hash, downgraded),
    };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '4', reason: 'hash_version' });
  });

  it('finds an entry of a version it does not know', () => {
    const entries = chain(2);
    // The table may hold any smallint: the walker must not trust the type.
    entries[1] = { ...entries[1]!, hashVersion: 3 as HashVersion };
    const walker = new ChainWalker();
    entries.forEach((e) => walker.next(e));
    expect(walker.verdict).toMatchObject({ firstBrokenId: '2', reason: 'hash_version' });
  });
});

describe('canonicalContent', () => {
  it('covers seq from hash version 2 on, and not in version 1', () => {
    expect(canonicalContent(entry('1', { seq: 9 }))).toContain('"seq":9,');
    expect(canonicalContent(entry('1', { seq: 9, hashVersion: 1 }))).not.toContain('seq');
    expect(chainHash(GENESIS_HASH, entry('1', { seq: 9 }))).not.toBe(
      chainHash(GENESIS_HASH, entry('1', { seq: 10 })),
    );
    expect(chainHash(GENESIS_HASH, entry('1', { seq: 9, hashVersion: 1 }))).toBe(
      chainHash(GENESIS_HASH, entry('1', { seq: 10, hashVersion: 1 })),
    );
  });

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
      entry('4', { hashVersion: 1 }),
      entry('5', { seq: 9_007_199_254_740_991 }),
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
        seq,
        hashVersion,
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
          seq: hashVersion === 1 ? undefined : seq,
        }),
      );
    }
  });
});

describe('describeBreak', () => {
  it('names the missing seqs, or what else broke', () => {
    const broken = { valid: false, checked: 1 };
    expect(describeBreak({ ...broken, reason: 'seq_gap', expectedSeq: 4, foundSeq: 5 })).toBe(
      'seq 4 is missing',
    );
    expect(describeBreak({ ...broken, reason: 'seq_gap', expectedSeq: 4, foundSeq: 9 })).toBe(
      'seq 4 to 8 are missing',
    );
    expect(describeBreak({ ...broken, reason: 'seq_order', expectedSeq: 9, foundSeq: 2 })).toMatch(
      /^seq 2 where 9 was expected/,
    );
    expect(describeBreak({ ...broken, reason: 'content' })).toMatch(/hash does not match/);
    expect(describeBreak({ valid: true, checked: 3 })).toBe('not broken');
  });
});
