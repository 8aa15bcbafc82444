import { types } from 'pg';
import { canonicalJson } from './audit-chain';
import { canonicalJsonText, isoInstant, StoredRow, storedEntry } from './stored-entry';

/** What verification did before: pg's own parser, then Date#toISOString. */
const viaPg = (text: string): string =>
  (types.getTypeParser(types.builtins.TIMESTAMPTZ) as (text: string) => Date)(text).toISOString();

describe('isoInstant', () => {
  it('agrees with pg’s parser on UTC texts, whatever the fraction', () => {
    const texts = ['2026-01-02 03:04:05+00', '0001-01-01 00:00:00+00', '0099-12-31 23:59:59.9+00'];
    for (let i = 0; i < 2000; i++) {
      const at = new Date(Date.UTC(1970 + (i % 80), i % 12, 1 + (i % 28), i % 24, i % 60, i % 60));
      const stem = at.toISOString().slice(0, 19).replace('T', ' ');
      const digits = String((i * 7919) % 1_000_000)
        .padStart(6, '0')
        .slice(0, 1 + (i % 6));
      texts.push(
        `${stem}+00`,
        `${stem}.${digits}+00`,
        `${stem}.${String(i % 1000).padStart(3, '0')}+00`,
      );
    }
    for (const text of texts) expect(isoInstant(text)).toBe(viaPg(text));
  });

  it('takes pg’s parser for other zones, BC and five-digit years', () => {
    for (const text of [
      '2026-01-02 05:04:05.678+02',
      '2026-01-02 08:34:05.678+05:30',
      '2026-01-02 03:04:05.678+00 BC',
      '10000-01-02 03:04:05.678+00',
    ]) {
      expect(isoInstant(text)).toBe(viaPg(text));
    }
    expect(isoInstant('2026-01-02 03:04:05.678+00 BC')).not.toBe(
      isoInstant('2026-01-02 03:04:05.678+00'),
    );
  });
});

describe('canonicalJsonText', () => {
  it('writes the canonical JSON of a jsonb text', () => {
    for (const json of ['{}', '{"b": 1, "a": {"d": [1, 2], "c": "x"}}', '{"10": 1, "9": null}']) {
      expect(canonicalJsonText(json)).toBe(canonicalJson(JSON.parse(json)));
    }
  });
});

describe('storedEntry', () => {
  it('maps every column to its field', () => {
    const row: StoredRow = [
      '7',
      '2026-01-02 03:04:05.6+00',
      'actor',
      '10.0.0.1',
      'agent',
      'auth.login',
      'user',
      'u1',
      'case',
      'failure',
      '{"b": 2, "a": 1}',
      'r1',
      'p'.repeat(64),
      'h'.repeat(64),
      '9007199254740991',
      2,
    ];
    expect(storedEntry(row)).toEqual({
      id: '7',
      occurredAt: '2026-01-02T03:04:05.600Z',
      actorId: 'actor',
      actorIp: '10.0.0.1',
      userAgent: 'agent',
      action: 'auth.login',
      resourceType: 'user',
      resourceId: 'u1',
      caseId: 'case',
      outcome: 'failure',
      details: '{"a":1,"b":2}',
      requestId: 'r1',
      prevHash: 'p'.repeat(64),
      hash: 'h'.repeat(64),
      seq: 9_007_199_254_740_991,
      hashVersion: 2,
    });
  });
});
