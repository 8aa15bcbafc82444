import fc from 'fast-check';
import { createValidationPipe } from '../../core/http/validation';
import { isCertainlyValidRevision } from './revise-fast-check';
import { ReviseTurnDto } from './turn.dto';

/** The very pipe the PATCH body went through before the fast path (and still does on a "no"). */
const pipe = createValidationPipe();

async function dtoAccepts(body: unknown): Promise<boolean> {
  try {
    await pipe.transform(body, { type: 'body', metatype: ReviseTurnDto, data: undefined });
    return true;
  } catch {
    return false;
  }
}

/**
 * `value` with every object given Object.prototype, as JSON.parse makes them (fast-check's
 * records have none), keeping undefined, NaN and -0 as they are.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** Control, bidi and line-break characters: both sides of IsPrintableText / IsMultilineText. */
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
const textWithDangerousChar = fc
  .tuple(fc.string({ maxLength: 3 }), dangerousChar, fc.string({ maxLength: 3 }))
  .map(([before, char, after]) => `${before}${char}${after}`);
const anyText = fc.oneof(fc.string({ maxLength: 4 }), textWithDangerousChar);

/** Values on both sides of every rule: types, bounds, lengths, odd strings. */
const anyValue = fc.oneof(
  textWithDangerousChar,
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -2, max: 2 }),
  fc.constantFrom(0.5, -0.0, 1, 86_400_000, 86_400_001, 1_000_000, 1_000_001, 1e21, NaN, Infinity),
  fc.double(),
  fc.string({ maxLength: 3 }),
  fc.constantFrom(
    '',
    '\uFE0F',
    '😀',
    'x'.repeat(200),
    'x'.repeat(201),
    'x'.repeat(500),
    'x'.repeat(501),
    'x'.repeat(2000),
    'x'.repeat(2001),
  ),
  fc.constantFrom('none', 'light', 'full', 'heavy', 'HIGH', 'LOW'),
  fc.constant([]),
  fc.constant({}),
);
const position = fc.record(
  {
    start: fc.oneof(fc.integer({ min: -1, max: 1_000_001 }), anyValue),
    end: fc.oneof(fc.integer({ min: 0, max: 5 }), anyValue),
    line: anyValue,
  },
  { requiredKeys: [] },
);
const correction = fc.oneof(
  fc.record(
    {
      original: fc.oneof(anyText, anyValue),
      corrected: fc.oneof(anyText, anyValue),
      confidence: fc.oneof(fc.double({ min: -0.5, max: 1.5 }), anyValue),
      reason: fc.oneof(anyText, anyValue),
      contextRelevance: anyValue,
      position: fc.oneof(position, anyValue),
      extra: anyValue,
    },
    { requiredKeys: [] },
  ),
  anyValue,
);
/** Any mix of the PATCH fields, the raw fields (400 on a PATCH) and unknown ones. */
const body = fc
  .record(
    {
      cleanedText: fc.oneof(anyText, anyValue),
      cleaningApplied: anyValue,
      cleaningLevel: anyValue,
      corrections: fc.oneof(fc.array(correction, { maxLength: 3 }), anyValue),
      contextDetected: fc.oneof(anyText, anyValue),
      businessDomain: anyValue,
      conversationFlow: anyValue,
      aiModelUsed: anyValue,
      transcriptionErrorDetected: anyValue,
      processingTimeMs: anyValue,
      engineRequestId: fc.oneof(anyText, anyValue),
      websocketLatencyMs: anyValue,
      rawText: anyValue,
      speaker: anyValue,
      spokenAt: anyValue,
      messageNumber: anyValue,
      confidence: anyValue,
      revision: anyValue,
    },
    { requiredKeys: [] },
  )
  .map((b) => plain(b) as Record<string, unknown>);

/** PATCH bodies as the cleaning engine sends them: every rule met. */
const wellFormed = fc
  .record(
    {
      cleanedText: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null)),
      cleaningApplied: fc.boolean(),
      cleaningLevel: fc.constantFrom('none', 'light', 'full'),
      corrections: fc.array(
        fc.record({
          original: fc.string({ maxLength: 20 }),
          corrected: fc.string({ maxLength: 20 }),
          confidence: fc.double({ min: 0, max: 1, noNaN: true }),
          reason: fc.string({ maxLength: 20 }),
          position: fc.record({
            start: fc.integer({ min: 0, max: 1000 }),
            end: fc.integer({ min: 0, max: 1000 }),
          }),
        }),
        { maxLength: 3 },
      ),
      businessDomain: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null)),
      transcriptionErrorDetected: fc.boolean(),
      processingTimeMs: fc.oneof(fc.integer({ min: 0, max: 86_400_000 }), fc.constant(null)),
      engineRequestId: fc.string({ maxLength: 60 }),
      websocketLatencyMs: fc.integer({ min: 0, max: 5000 }),
    },
    { requiredKeys: [] },
  )
  .map((b) => plain(b) as Record<string, unknown>);
/** Only printable text, as JSON.parse gives it: what the fast path is for. */
const printable = (b: Record<string, unknown>): boolean =>
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(JSON.stringify(b));

/** A well-formed body but for one field, which takes any value. */
const almostWellFormed = fc
  .tuple(
    wellFormed,
    fc.constantFrom(
      'cleanedText',
      'cleaningApplied',
      'cleaningLevel',
      'corrections',
      'contextDetected',
      'aiModelUsed',
      'processingTimeMs',
      'engineRequestId',
      'websocketLatencyMs',
      'rawText',
    ),
    fc.oneof(
      anyText,
      anyValue,
      fc.array(correction, { maxLength: 2 }),
      // Both sides of the numeric bounds (the millisecond fields end at 86,400,000).
      fc.constantFrom(-1, -0.5, -0, 0, 0.5, 1, 1.5, 86_400_000, 86_400_001, 2 ** 31, 1e21),
    ),
  )
  .map(([valid, field, value]) => ({ ...valid, [field]: value }));

describe('the fast PATCH body check', () => {
  it('never accepts a body the DTO rules refuse', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(body, { arbitrary: almostWellFormed, weight: 3 }),
        async (candidate) => {
          if (!isCertainlyValidRevision(candidate)) return;
          accepted++;
          expect(await dtoAccepts(candidate)).toBe(true);
        },
      ),
      { numRuns: 6000 },
    );
    // The property is only as good as the bodies that reach the comparison.
    expect(accepted).toBeGreaterThan(500);
  });

  it('accepts the well-formed bodies the cleaning engine sends', async () => {
    await fc.assert(
      fc.asyncProperty(wellFormed.filter(printable), async (candidate) => {
        expect(isCertainlyValidRevision(candidate)).toBe(true);
        expect(await dtoAccepts(candidate)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves raw fields, nulls where null is refused and non-objects to the DTO rules', async () => {
    const refused: unknown[] = [
      { cleanedText: 'x', rawText: 'changed' },
      { cleanedText: 'x', messageNumber: 2 },
      { cleaningApplied: null },
      { cleaningLevel: null },
      { corrections: null },
      { transcriptionErrorDetected: null },
      { cleaningLevel: 'heavy' },
      { corrections: [[]] },
      { engineRequestId: 'id\u001b[2J' },
      { cleanedText: 'abc\u202edcba' },
      { processingTimeMs: 1.5 },
      [],
      'text',
    ];
    for (const candidate of refused) {
      expect(isCertainlyValidRevision(candidate)).toBe(false);
      expect(await dtoAccepts(candidate)).toBe(false);
    }
    const accepted = [
      { cleanedText: null, contextDetected: null, processingTimeMs: null },
      { cleanedText: 'line one\r\nline two\tend', cleaningApplied: false },
      {},
    ];
    for (const candidate of accepted) {
      expect(isCertainlyValidRevision(candidate)).toBe(true);
      expect(await dtoAccepts(candidate)).toBe(true);
    }
    // The pipe reads a missing body as `{}` (then the service answers 400); the fast path
    // leaves it to the pipe.
    expect(isCertainlyValidRevision(null)).toBe(false);
  });
});
