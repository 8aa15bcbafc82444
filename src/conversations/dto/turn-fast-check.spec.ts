import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import fc from 'fast-check';
import { TURN_KEYS } from '../../../test/support/conversation-arbitraries';
import { isCertainlyValidBody } from './turn-fast-check';
import { TurnBatchDto, TurnDto } from './turn.dto';

const RULES = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

async function dtoAccepts(body: object): Promise<boolean> {
  const dto =
    'turns' in body ? plainToInstance(TurnBatchDto, body) : plainToInstance(TurnDto, body);
  return (await validate(dto, RULES)).length === 0;
}

/**
 * Control characters (C0 but the allowed tab and line breaks, DEL, C1) and bidi
 * overrides/isolates, and the allowed \t \n \r beside them: both sides of
 * IsPrintableText and IsMultilineText.
 */
const dangerousChar = fc.constantFrom(
  '\u0000',
  '\u0007',
  '\t',
  '\n',
  '\u000b',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\u200f',
);
/** Short text with a control, bidi or line-break character somewhere in it. */
const textWithDangerousChar = fc
  .tuple(fc.string({ maxLength: 3 }), dangerousChar, fc.string({ maxLength: 3 }))
  .map(([before, char, after]) => `${before}${char}${after}`);
/** Any short string, sometimes with a control, bidi or line-break character. */
const anyText = fc.oneof(fc.string({ maxLength: 4 }), textWithDangerousChar);

/** Values on both sides of every rule: types, bounds, lengths, odd strings. */
const anyValue = fc.oneof(
  textWithDangerousChar,
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -2, max: 2 }),
  fc.constantFrom(0.5, 1.0000001, -0.0, 1, 10_000_000, 10_000_001, 86_400_000, 1e21, NaN, Infinity),
  fc.double(),
  fc.string({ maxLength: 3 }),
  fc.constantFrom(
    '',
    '\uFE0F',
    '\uFE0E\uFE0F',
    '😀',
    'x'.repeat(100),
    'x'.repeat(101),
    'x'.repeat(200),
    'x'.repeat(201),
  ),
  fc.constantFrom('none', 'light', 'full', 'heavy'),
  fc.constant([]),
  fc.constant({}),
);
const timestamp = fc.oneof(
  fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z') })
    .map((d) => (Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString())),
  fc.constantFrom(
    '2026-02-29T10:00:00Z',
    '2024-02-29T10:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-11-22T24:00:00Z',
    '2026-11-22T10:00:00+24:00',
    '2026-11-22T10:00:00+23:59',
    '9999-12-31T23:59:59-05:00',
    '1000-01-01T00:00:00+14:00',
    '2026-11-22T10:00:00.123456789Z',
    '2026-11-22T10:00:00',
    '2026-W47-1',
    '20261122T100000Z',
  ),
  anyValue,
);
const position = fc.record(
  {
    start: fc.oneof(fc.integer({ min: -1, max: 1_000_001 }), anyValue),
    end: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: [] },
);
const correction = fc.oneof(
  fc.record(
    {
      original: fc.oneof(anyText, anyValue),
      corrected: anyText,
      confidence: fc.oneof(fc.double({ min: -0.5, max: 1.5 }), anyValue),
      reason: fc.oneof(anyText, fc.constant('r'.repeat(501))),
      position: fc.oneof(position, anyValue),
    },
    { requiredKeys: [] },
  ),
  anyValue,
);
const turn = fc
  .record(
    {
      messageNumber: fc.oneof(fc.integer({ min: -1, max: 10_000_001 }), anyValue),
      speaker: fc.oneof(anyText, anyValue),
      rawText: fc.oneof(anyText, anyValue),
      cleanedText: anyValue,
      spokenAt: timestamp,
      confidence: fc.oneof(fc.double({ min: -0.5, max: 1.5 }), anyValue),
      cleaningApplied: anyValue,
      cleaningLevel: anyValue,
      corrections: fc.oneof(fc.array(correction, { maxLength: 3 }), anyValue),
      contextDetected: anyValue,
      businessDomain: anyValue,
      conversationFlow: anyValue,
      aiModelUsed: anyValue,
      transcriptionErrorDetected: anyValue,
      processingTimeMs: anyValue,
      slidingWindowSize: anyValue,
      contextTurnsUsed: anyValue,
      role: anyValue,
    },
    { requiredKeys: [] },
  )
  .map((t) => t as Record<string, unknown>);

/** Turns as live clients send them (plain objects, as JSON.parse makes them): every rule met. */
const wellFormedTurn = fc
  .record({
    messageNumber: fc.integer({ min: 1, max: 10_000_000 }),
    speaker: fc.string({ minLength: 1, maxLength: 100 }).filter((s) => /[^\uFE0E\uFE0F]/.test(s)),
    rawText: fc.string({ minLength: 1, maxLength: 300 }).filter((s) => /[^\uFE0E\uFE0F]/.test(s)),
    spokenAt: fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z') })
      .filter((d) => !Number.isNaN(d.getTime()))
      .map((d) => d.toISOString()),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }),
    cleaningLevel: fc.constantFrom('none', 'light', 'full'),
    processingTimeMs: fc.integer({ min: 0, max: 5000 }),
  })
  .map((t) => ({ ...t }));

/** A well-formed turn but for one text field, which may hold a control or bidi character. */
const TEXT_FIELDS = [
  'speaker',
  'rawText',
  'cleanedText',
  'contextDetected',
  'businessDomain',
  'conversationFlow',
  'aiModelUsed',
] as const;
const turnWithOddText = fc
  .tuple(
    wellFormedTurn,
    fc.constantFrom(...TEXT_FIELDS, 'original', 'corrected', 'reason'),
    anyText,
  )
  .map(([valid, field, text]): Record<string, unknown> => {
    if (field === 'original' || field === 'corrected' || field === 'reason') {
      const correction = {
        original: 'a',
        corrected: 'b',
        confidence: 0.5,
        reason: 'r',
        position: { start: 0, end: 1 },
      };
      return { ...valid, corrections: [{ ...correction, [field]: text }] };
    }
    return { ...valid, [field]: text };
  });

/**
 * A well-formed turn with one field set to any value, or one unknown key added: the edge
 * the fast check must draw exactly where the DTO rules do. Random records (`turn`) mostly
 * lack a required field, so they rarely get past the fast check at all.
 */
const ODD_FIELD_KEYS = [...TURN_KEYS, 'engineRequestId', 'websocketLatencyMs', 'role'] as const;
/** Numbers on both sides of every numeric bound of a turn. */
const boundaryNumber = fc.oneof(
  fc.constantFrom(-1, -0.0001, -0, 0, 0.5, 1, 1.0001, 2, 100_000, 100_001),
  fc.constantFrom(86_400_000, 86_400_001, 10_000_000, 10_000_001, 2 ** 31, 1.5, 0.1 + 0.2),
);
const turnWithOneOddField = fc
  .tuple(
    wellFormedTurn,
    fc.constantFrom(...ODD_FIELD_KEYS),
    fc.oneof(
      { arbitrary: boundaryNumber, weight: 3 },
      { arbitrary: anyValue, weight: 3 },
      { arbitrary: timestamp, weight: 1 },
      { arbitrary: fc.array(correction, { maxLength: 2 }), weight: 1 },
    ),
  )
  .map(([valid, key, value]): Record<string, unknown> => ({ ...valid, [key]: value }));

describe('the fast turn check', () => {
  it('never accepts a turn the DTO rules refuse', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(turn, turnWithOddText, { arbitrary: turnWithOneOddField, weight: 4 }),
        async (body) => {
          if (!isCertainlyValidBody(body)) return;
          accepted++;
          expect(await dtoAccepts(body)).toBe(true);
        },
      ),
      { numRuns: 6000 },
    );
    // The property is only as good as the bodies that reach the comparison.
    expect(accepted).toBeGreaterThan(500);
  });

  it('never accepts a batch the DTO rules refuse', async () => {
    const batch = fc.oneof(
      fc.record({
        turns: fc.array(fc.oneof(turn, wellFormedTurn, turnWithOddText), { maxLength: 4 }),
      }),
      fc.record({ turns: fc.array(wellFormedTurn, { maxLength: 2 }), extra: anyValue }),
      fc.record({ turns: anyValue }),
    );
    await fc.assert(
      fc.asyncProperty(batch, async (body) => {
        if (isCertainlyValidBody(body)) expect(await dtoAccepts(body)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts the well-formed turns and batches live clients send', () => {
    fc.assert(
      fc.property(fc.array(wellFormedTurn, { minLength: 1, maxLength: 20 }), (turns) => {
        expect(isCertainlyValidBody({ turns })).toBe(true);
        expect(isCertainlyValidBody(turns[0])).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves the edge cases it is unsure of to the DTO rules', () => {
    const base = {
      messageNumber: 1,
      speaker: 'Speaker_0',
      rawText: 'hello',
      spokenAt: '2026-11-22T10:00:00.000Z',
      confidence: 0.9,
    };
    expect(isCertainlyValidBody(base)).toBe(true);
    expect(isCertainlyValidBody({ ...base, spokenAt: '2026-W47-1' })).toBe(false);
    expect(isCertainlyValidBody({ ...base, speaker: '\uFE0F' })).toBe(false);
    expect(isCertainlyValidBody({ ...base, role: 'admin' })).toBe(false);
    expect(isCertainlyValidBody({ turns: [] })).toBe(false);
    expect(isCertainlyValidBody({ ...base, corrections: [[]] })).toBe(false);
  });

  it('refuses control and bidi-override characters in text, and so do the DTO rules', async () => {
    const base = {
      messageNumber: 1,
      speaker: 'Speaker_0',
      rawText: 'line one\r\nline two\tend',
      spokenAt: '2026-11-22T10:00:00.000Z',
      confidence: 0.9,
    };
    expect(isCertainlyValidBody(base)).toBe(true);
    const refused = [
      { ...base, speaker: 'Speaker\u001b[2J' },
      { ...base, speaker: 'two\nlines' },
      { ...base, rawText: 'ring\u0007' },
      { ...base, rawText: 'abc\u202edcba' },
      { ...base, cleanedText: '\u2066isolated' },
      { ...base, aiModelUsed: 'model\u0085' },
    ];
    for (const body of refused) {
      expect(isCertainlyValidBody(body)).toBe(false);
      expect(await dtoAccepts(body)).toBe(false);
    }
  });
});
