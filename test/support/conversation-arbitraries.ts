import fc from 'fast-check';
import { isDateString, isUUID } from 'class-validator';
import { percentEncode } from './conversation-http';

/**
 * fast-check arbitraries for the conversation DTOs (SPEC section 6): valid values, and
 * malformed requests built from a valid one by at least one mutation that the contract
 * says must be refused. Each mutation is chosen so that it cannot turn out valid by
 * chance. `null` breaks an optional field only where the field cannot be null (F9: an
 * explicit null is refused, not taken as "left out"); turns' optional fields may be null.
 */

export const MAX_MESSAGE_NUMBER = 10_000_000;

/** What a generated request looks like before it is sent. */
export interface FuzzCase {
  /** The mutations applied, for the failure report. */
  label: string;
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

// ----------------------------------------------------------------------------------
// Values

// eslint-disable-next-line no-control-regex -- matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Text Postgres can store: no NUL, no unpaired surrogate (the contract of every text field). */
export const storable = (s: string): boolean => !UNSTORABLE.test(s);

/** Full-Unicode text (emoji, combining marks, RTL, CJK ...) that is still storable. */
export const unicodeText = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .string({ unit: 'grapheme', minLength, maxLength })
    .filter((s) => storable(s) && s.length >= minLength && s.length <= maxLength);

const asciiText = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ minLength, maxLength });

/** A JSON token spliced into the body as is (numbers JSON.stringify cannot write, bad JSON). */
export const raw = (token: string): string => `RAW<<${token}>>`;

export function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/"RAW<<(.*?)>>"/g, '$1');
}

/** The timestamp check of the API, to keep generated "bad" dates from being valid by chance. */
export function isValidSpokenAt(value: string): boolean {
  if (!isDateString(value, { strict: true })) return false;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return false;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** Anything JSON can carry that is not null and not a string. */
const nonStringNonNull: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant([]),
  fc.array(asciiText(0, 5), { maxLength: 3 }),
  fc.dictionary(asciiText(1, 5), asciiText(0, 5), { maxKeys: 3 }),
);

const NAN_ISH = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e3',
  '0x10',
  '',
  ' 1',
  '1 ',
  '1_000',
  '٣',
  '+1',
  '0.5',
  '1,5',
  'null',
  'undefined',
  '[]',
  '{}',
  '0b1',
  '1n',
  '٠',
  '１',
];

/** Not a number: strings (numeric-looking or not), booleans, containers. */
const nonNumberNonNull: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NAN_ISH),
  asciiText(0, 8),
  fc.integer().map(String),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { minLength: 1, maxLength: 2 }),
);

/** An integer field bounded by [min, max]: anything else, never null. */
function badInteger(min: number, max: number, rawTokens: string[] = []): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.integer({ min: -(2 ** 31), max: min - 1 }),
    fc.integer({ min: max + 1, max: Math.max(max + 1, 2 ** 31) }),
    fc.constantFrom(max + 1, min - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 1e21),
    fc
      .double({ min: min - 10, max: max + 10, noNaN: true, noDefaultInfinity: true })
      .filter((x) => !Number.isInteger(x)),
    nonNumberNonNull,
    fc.constantFrom(
      raw('1e400'),
      raw('-1e400'),
      raw('NaN'),
      raw('Infinity'),
      raw('01'),
      raw('1.5e'),
      raw('0x1'),
      ...rawTokens,
    ),
  );
}

/** A number in [0, 1]: anything else, never null. */
const badUnitInterval: fc.Arbitrary<unknown> = fc.oneof(
  fc.double({ min: 1, max: 1e12, noNaN: true, minExcluded: true }).filter(Number.isFinite),
  fc
    .double({ min: -1e12, max: 0, noNaN: true, maxExcluded: true })
    .filter((x) => Number.isFinite(x) && x < 0),
  fc.constantFrom(1.0000001, -0.0001, 2, -1, 1e308, -1e308, Number.MAX_VALUE),
  nonNumberNonNull,
  fc.constantFrom(raw('1e400'), raw('-1e400'), raw('NaN'), raw('Infinity'), raw('.5'), raw('1.')),
);

const badBoolean: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('true', 'false', '1', '0', 'yes', '', 'TRUE'),
  fc.integer({ min: -2, max: 2 }),
  fc.constant([]),
  fc.constant({}),
  fc.constant([true]),
);

/** A text field of at most `max` characters (`min` ≥ 1 when required): anything else. */
function badText(min: number, max: number, required: boolean): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [
    nonStringNonNull,
    fc.integer({ min: max + 1, max: max + 200 }).map((n) => 'x'.repeat(n)),
    // NUL or an unpaired surrogate inside otherwise fine text.
    fc
      .tuple(
        asciiText(0, 10),
        fc.constantFrom('\u0000', '\ud800', '\udfff', '\udc00x', 'a\ud83d'),
        asciiText(0, 10),
      )
      .map(([a, b, c]) => a + b + c)
      .filter((s) => s.length <= max),
  ];
  if (min > 0) options.push(fc.constant(''));
  if (required) options.push(fc.constant(null));
  return fc.oneof(...options);
}

/** Deeply nested JSON, built as text (JSON.stringify itself would overflow). */
export const deepJson = (depth: number, kind: 'object' | 'array' = 'object'): string =>
  kind === 'object'
    ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    : `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepValue: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 33, max: 200 }), fc.integer({ min: 4000, max: 30_000 })),
    fc.constantFrom('object' as const, 'array' as const),
  )
  .map(([depth, kind]) => raw(deepJson(depth, kind)));

/** Random keys that are none of `known` (and not `__proto__`, which the parser refuses anyway). */
const unknownKey = (known: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(
      asciiText(1, 12),
      unicodeText(1, 6),
      fc.constantFrom(
        'constructor',
        'prototype',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'Name',
        'NAME',
        ' name',
      ),
    )
    .filter((k) => !known.includes(k) && k !== '__proto__');

// ----------------------------------------------------------------------------------
// Turns

const CLEANING_LEVELS = ['none', 'light', 'full'];

export const validCorrection = (text: (min: number, max: number) => fc.Arbitrary<string>) =>
  fc
    .record({
      original: text(0, 40),
      corrected: text(0, 40),
      confidence: fc.double({ min: 0, max: 1, noNaN: true }),
      reason: text(0, 30),
      start: fc.integer({ min: 0, max: 1_000_000 }),
      end: fc.integer({ min: 0, max: 1_000_000 }),
    })
    .map(({ start, end, ...rest }) => ({ ...rest, position: { start, end } }));

/**
 * A valid turn. `text` picks the alphabet: ASCII keeps the malformed runs cheap, full
 * Unicode is what the valid property sends. `messageNumber` is supplied by the caller so
 * valid turns never collide.
 */
export function validTurn(
  text: (min: number, max: number) => fc.Arbitrary<string> = asciiText,
  messageNumber: fc.Arbitrary<number> = fc.integer({ min: 1, max: MAX_MESSAGE_NUMBER }),
): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      messageNumber,
      speaker: text(1, 30),
      rawText: text(1, 200),
      cleanedText: fc.option(text(0, 200), { nil: null }),
      spokenAt: fc.oneof(
        fc
          .date({
            // IsDateString (validator's strict mode) refuses years before 100.
            min: new Date('0100-01-01T00:00:00.000Z'),
            max: new Date('9999-12-31T23:59:59.999Z'),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString()),
        fc
          .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString().replace('.000Z', 'Z')),
        fc.constantFrom(
          '2024-02-29T23:59:59.999Z',
          '2024-06-01T12:00:00+02:00',
          '2024-06-01T12:00:00.123456Z',
          '2024-06-01',
          '0100-01-02T00:00:00Z',
        ),
      ),
      confidence: fc.oneof(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(0, 1, 0.6, 0.85, 0.5999999, 0.8499999),
      ),
      cleaningApplied: fc.boolean(),
      cleaningLevel: fc.constantFrom(...CLEANING_LEVELS),
      corrections: fc.array(validCorrection(text), { maxLength: 3 }),
      contextDetected: fc.option(text(0, 40), { nil: null }),
      businessDomain: fc.option(text(0, 40), { nil: null }),
      conversationFlow: fc.option(text(0, 40), { nil: null }),
      aiModelUsed: fc.option(text(0, 40), { nil: null }),
      transcriptionErrorDetected: fc.boolean(),
      processingTimeMs: fc.oneof(fc.integer({ min: 0, max: 86_400_000 }), fc.constant(null)),
      slidingWindowSize: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(null)),
      contextTurnsUsed: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(null)),
    },
    { requiredKeys: ['messageNumber', 'speaker', 'rawText', 'spokenAt', 'confidence'] },
  );
}

export const TURN_KEYS = [
  'messageNumber',
  'speaker',
  'rawText',
  'cleanedText',
  'spokenAt',
  'confidence',
  'cleaningApplied',
  'cleaningLevel',
  'corrections',
  'contextDetected',
  'businessDomain',
  'conversationFlow',
  'aiModelUsed',
  'transcriptionErrorDetected',
  'processingTimeMs',
  'slidingWindowSize',
  'contextTurnsUsed',
] as const;

/** Fields the server stamps or derives: never accepted from a client. */
const SERVER_TURN_FIELDS = [
  'id',
  'conversationId',
  'confidenceLevel',
  'receivedAt',
  'persistedAt',
  'queueTimeMs',
  'ingestedBy',
  'turns',
];

const badSpokenAt: fc.Arbitrary<unknown> = fc
  .oneof(
    fc.constantFrom(
      '2024-W01-1',
      '2024-W01',
      '20240101T000000Z',
      '9999-12-31T23:59:59.999-23:59',
      '2023-02-29',
      '2024-13-01',
      '2024-01-01T25:00:00Z',
      '2024-01-01T00:00:60Z',
      '2024-01-01T00:00:00.000+25:00',
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:00:00+14:00',
      '-000001-01-01T00:00:00Z',
      '+275760-09-13T00:00:00.001Z',
      '+010000-01-01T00:00:00.000Z',
      'yesterday',
      'now',
      '',
      'Mon, 01 Jan 2024 00:00:00 GMT',
      '1704067200000',
      '2024-01-01T00:00:00Z\u0000',
    ),
    asciiText(0, 30),
    fc.integer().map(String),
  )
  .filter((v) => typeof v !== 'string' || !isValidSpokenAt(v));

/** A correction that must be refused. */
const badCorrection: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, 1, 'x', true, [], [[]]),
  fc
    .tuple(
      validCorrection(asciiText),
      fc.oneof(
        fc
          .constantFrom('original', 'corrected', 'confidence', 'reason', 'position')
          .map((key) => [key, undefined] as const),
        fc.tuple(fc.constantFrom('original', 'corrected', 'reason'), nonStringNonNull),
        fc.tuple(fc.constant('original'), fc.constant('x'.repeat(2001))),
        fc.tuple(fc.constant('reason'), fc.constant('x'.repeat(501))),
        fc.tuple(fc.constant('confidence'), badUnitInterval),
        fc.tuple(
          fc.constant('position'),
          fc.oneof(
            fc.constantFrom(null, 1, 'x', [], [0, 1], true),
            fc.record({ start: badInteger(0, 1_000_000), end: fc.integer({ min: 0, max: 10 }) }),
            fc.record({ start: fc.integer({ min: 0, max: 10 }), end: badInteger(0, 1_000_000) }),
            fc.constant({ start: 1 }),
            fc.constant({ end: 1 }),
            fc.record({
              start: fc.constant(0),
              end: fc.constant(1),
              [`extra`]: fc.jsonValue({ maxDepth: 3 }),
            }),
            fc.record({
              start: fc
                .jsonValue({ maxDepth: 4 })
                .filter((v) => typeof v === 'object' && v !== null),
              end: fc.constant(1),
            }),
            deepValue,
          ),
        ),
        fc.tuple(
          unknownKey(['original', 'corrected', 'confidence', 'reason', 'position']),
          fc.jsonValue({ maxDepth: 2 }),
        ),
      ),
    )
    .map(([correction, [key, value]]) => {
      const copy: Record<string, unknown> = { ...correction };
      if (value === undefined) delete copy[key];
      else copy[key] = value;
      return copy;
    }),
);

const NAME_CONTROL = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
/** Refused in every free-text field: C1 controls, DEL and the bidi overrides and isolates. */
const TEXT_CONTROL = fc.oneof(
  fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x202a, max: 0x202e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x2066, max: 0x2069 }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u001b', '\u0007', '\u0008', '\u000b', '\u000c'),
);
/** Text with one character in it that no free-text field takes, one line or several. */
const controlText = (oneLine: boolean): fc.Arbitrary<string> =>
  fc
    .tuple(
      asciiText(0, 10),
      oneLine ? fc.oneof(NAME_CONTROL, TEXT_CONTROL) : TEXT_CONTROL,
      asciiText(0, 10),
    )
    .map(([a, c, b]) => a + c + b);

/** One mutation of a turn that makes it invalid: [description, apply]. */
type TurnMutation = [string, (turn: Record<string, unknown>) => void];

const set =
  (key: string, value: unknown): TurnMutation[1] =>
  (turn) => {
    turn[key] = value;
  };

const turnMutation: fc.Arbitrary<TurnMutation> = fc.oneof(
  badInteger(1, MAX_MESSAGE_NUMBER, [raw('-0'), raw('1e-400'), raw('9007199254740993')]).map(
    (v): TurnMutation => [`messageNumber=${serialize(v)}`, set('messageNumber', v)],
  ),
  fc
    .constantFrom('messageNumber', 'speaker', 'rawText', 'spokenAt', 'confidence')
    .map((key): TurnMutation => [`without ${key}`, (turn) => delete turn[key]]),
  badText(1, 100, true).map((v): TurnMutation => [`speaker=${short(v)}`, set('speaker', v)]),
  badText(1, 10_000, true).map((v): TurnMutation => [`rawText=${short(v)}`, set('rawText', v)]),
  badText(0, 10_000, false).map((v): TurnMutation => [
    `cleanedText=${short(v)}`,
    set('cleanedText', v),
  ]),
  fc
    .tuple(
      fc.constantFrom('contextDetected', 'businessDomain', 'conversationFlow', 'aiModelUsed'),
      badText(0, 200, false),
    )
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  // Control and bidi-override characters, refused in every free-text field of a turn.
  fc
    .tuple(
      fc.constantFrom(
        'speaker',
        'contextDetected',
        'businessDomain',
        'conversationFlow',
        'aiModelUsed',
      ),
      controlText(true),
    )
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  fc
    .tuple(fc.constantFrom('rawText', 'cleanedText'), controlText(false))
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  badSpokenAt.map((v): TurnMutation => [`spokenAt=${short(v)}`, set('spokenAt', v)]),
  fc
    .oneof(badUnitInterval, fc.constant(null))
    .map((v): TurnMutation => [`confidence=${short(v)}`, set('confidence', v)]),
  fc
    .tuple(fc.constantFrom('cleaningApplied', 'transcriptionErrorDetected'), badBoolean)
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  fc
    .oneof(
      asciiText(0, 10).filter((s) => !CLEANING_LEVELS.includes(s)),
      fc.constantFrom('NONE', 'Light', ' full', 'full ', 'heavy', 0, true, [], ['none']),
    )
    .map((v): TurnMutation => [`cleaningLevel=${short(v)}`, set('cleaningLevel', v)]),
  fc
    .tuple(fc.constantFrom('processingTimeMs' as const), badInteger(0, 86_400_000))
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  fc
    .tuple(fc.constantFrom('slidingWindowSize', 'contextTurnsUsed'), badInteger(0, 100_000))
    .map(([key, v]): TurnMutation => [`${key}=${short(v)}`, set(key, v)]),
  // Corrections: not an array, too many, or with a bad element among good ones.
  fc
    .constantFrom('x', 1, true, {}, { 0: {} })
    .map((v): TurnMutation => [`corrections=${short(v)}`, set('corrections', v)]),
  fc.integer({ min: 101, max: 130 }).map((n): TurnMutation => [
    `corrections × ${n}`,
    set(
      'corrections',
      Array.from({ length: n }, () => ({
        original: 'a',
        corrected: 'b',
        confidence: 0.5,
        reason: 'r',
        position: { start: 0, end: 1 },
      })),
    ),
  ]),
  fc
    .tuple(fc.array(validCorrection(asciiText), { maxLength: 2 }), badCorrection, fc.nat(2))
    .map(([good, bad, at]): TurnMutation => {
      const list: unknown[] = [...good];
      list.splice(Math.min(at, list.length), 0, bad);
      return [`corrections[${Math.min(at, good.length)}]=${short(bad)}`, set('corrections', list)];
    }),
  deepValue.map((v): TurnMutation => ['corrections=<deep>', set('corrections', v)]),
  // Fields that are not the client's to send, and fields nobody knows.
  fc
    .tuple(fc.constantFrom(...SERVER_TURN_FIELDS), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, v]): TurnMutation => [`+${key}`, set(key, v)]),
  fc
    .tuple(unknownKey(TURN_KEYS), fc.jsonValue({ maxDepth: 3 }))
    .map(([key, v]): TurnMutation => [`+${JSON.stringify(key)}`, set(key, v)]),
);

function short(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : serialize(value);
  return text === undefined
    ? 'undefined'
    : text.length > 60
      ? `${text.slice(0, 60)}…(${text.length})`
      : text;
}

/** A turn with one to three mutations, each of which alone makes it invalid. */
export const malformedTurn: fc.Arbitrary<{ label: string; turn: Record<string, unknown> }> = fc
  .tuple(validTurn(), fc.array(turnMutation, { minLength: 1, maxLength: 3 }))
  .map(([turn, mutations]) => {
    const copy: Record<string, unknown> = { ...turn };
    mutations.forEach(([, apply]) => apply(copy));
    return { label: mutations.map(([label]) => label).join(', '), turn: copy };
  });

/** A body for POST /turns in the single-turn shape that must be refused. */
export const malformedSingleBody: fc.Arbitrary<{ label: string; body: string }> = fc.oneof(
  {
    weight: 200,
    arbitrary: malformedTurn.map(({ label, turn }) => ({ label, body: serialize(turn) })),
  },
  {
    weight: 10,
    arbitrary: fc
      .constantFrom('null', '1', '"turn"', 'true', '[]', '[{}]', '{}', '""')
      .map((body) => ({ label: `body ${body}`, body })),
  },
  {
    weight: 5,
    arbitrary: validTurn().map((turn) => ({ label: 'body [turn]', body: serialize([turn]) })),
  },
  {
    weight: 5,
    arbitrary: deepValue.map((v) => ({ label: 'deep body', body: serialize(v) })),
  },
  // Rare on purpose: a few 4-5 MiB bodies are enough to prove the limit, many are slow.
  {
    weight: 1,
    arbitrary: fc.integer({ min: 4 * 1024 * 1024, max: 5 * 1024 * 1024 }).map((n) => ({
      label: `rawText of ${n} chars (over the body limit)`,
      body: serialize({
        messageNumber: 1,
        speaker: 's',
        rawText: 'x'.repeat(n),
        spokenAt: '2024-01-01T00:00:00Z',
        confidence: 1,
      }),
    })),
  },
);

/** A body for POST /turns in the batch shape that must be refused. */
export const malformedBatchBody: fc.Arbitrary<{ label: string; body: string }> = fc.oneof(
  {
    weight: 120,
    arbitrary: fc
      .tuple(
        fc.array(validTurn(), { maxLength: 4 }),
        fc.array(malformedTurn, { minLength: 1, maxLength: 2 }),
        fc.nat(4),
      )
      .map(([good, bad, at]) => {
        const turns: unknown[] = [...good];
        bad.forEach(({ turn }, i) => turns.splice(Math.min(at + i, turns.length), 0, turn));
        return {
          label: `batch with ${bad.map((b) => b.label).join(' | ')}`,
          body: serialize({ turns }),
        };
      }),
  },
  {
    weight: 30,
    arbitrary: fc
      .oneof(
        fc.constantFrom(null, 1, 'turns', true, {}, { 0: {} }, []),
        fc.array(fc.constantFrom(null, 1, 'x', true, [], [[]]), { minLength: 1, maxLength: 3 }),
        deepValue,
      )
      .map((turns) => ({ label: `turns=${short(turns)}`, body: serialize({ turns }) })),
  },
  {
    weight: 20,
    arbitrary: fc
      .tuple(
        fc.array(validTurn(), { minLength: 1, maxLength: 3 }),
        unknownKey(['turns']),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([turns, key, value]) => ({
        label: `batch +${JSON.stringify(key)}`,
        body: serialize({ turns, [key]: value }),
      })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(validTurn(), fc.integer({ min: 1001, max: 1010 })).map(([turn, n]) => ({
      label: `batch of ${n} turns (over 1000)`,
      body: serialize({
        turns: Array.from({ length: n }, (_, i) => ({ ...turn, messageNumber: i + 1 })),
      }),
    })),
  },
);

// ----------------------------------------------------------------------------------
// Conversations

const CREATE_KEYS = ['name', 'description', 'caseId', 'metadata', 'joinPassword'] as const;
const UPDATE_KEYS = ['name', 'description', 'metadata', 'caseId', 'joinPassword'] as const;

/** Read-only or server-owned properties of a conversation (TARGETS S3). */
export const SERVER_CONVERSATION_FIELDS = [
  'id',
  'status',
  'turnsCount',
  'totalProcessingTimeMs',
  'averageConfidence',
  'confidenceSum',
  'lastActivityAt',
  'createdBy',
  'createdAt',
  'updatedAt',
  'endedAt',
  'endedReason',
  'sealHash',
  'sealedAt',
  'version',
  'hasJoinPassword',
  'joinPasswordHash',
  'partitionMonth',
];

/** Keys the API refuses anywhere in a body: members of Object.prototype, and `prototype`. */
const isPrototypeKey = (key: string): boolean => key in Object.prototype || key === 'prototype';
function withoutPrototypeKeys(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) return value.every(withoutPrototypeKeys);
  return Object.entries(value).every(([k, v]) => !isPrototypeKey(k) && withoutPrototypeKeys(v));
}

/** Free-form JSON as metadata may hold it (fast-check likes `__proto__`/`toString` keys). */
const metadataValue = fc.dictionary(
  asciiText(1, 8).filter((k) => !isPrototypeKey(k)),
  fc.jsonValue({ maxDepth: 3 }).filter(withoutPrototypeKeys),
  { maxKeys: 4 },
);

/** Over SPEC's metadata caps: 64 KiB as JSON (413) or 16 levels of nesting (400). */
const oversizedMetadata: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 64 * 1024, max: 80 * 1024 }).map((n) => ({ blob: 'x'.repeat(n) })),
  fc.integer({ min: 17, max: 31 }).map((depth) => raw(deepJson(depth))),
);

const badMetadata: fc.Arbitrary<unknown> = fc.oneof(
  // null included: metadata cannot be null (F9).
  fc.constantFrom('x', 1, true, [], [1, 2], 0, null),
  deepValue,
  oversizedMetadata,
  // Text Postgres cannot store, as a value or as a key, somewhere inside.
  fc
    .tuple(metadataValue, fc.constantFrom('\u0000', '\ud800', 'a\udc00', '\ud83d'), fc.boolean())
    .map(([meta, bad, asKey]) =>
      asKey ? { ...meta, [`k${bad}`]: 1 } : { ...meta, nested: { v: [`x${bad}`] } },
    ),
);

/** Not for turns: optional turn fields may still be null. Here null is always refused (F9). */
const badName = (required: boolean): fc.Arbitrary<unknown> =>
  fc.oneof(badText(1, 200, required), fc.constant(null), controlText(true));
const badDescription = (max: number): fc.Arbitrary<unknown> =>
  fc.oneof(badText(0, max, false), fc.constant(null), controlText(false));

type ObjectMutation = [string, (body: Record<string, unknown>) => void];

const setKey =
  (key: string, value: unknown) =>
  (body: Record<string, unknown>): void => {
    body[key] = value;
  };

const createMutation: fc.Arbitrary<ObjectMutation> = fc.oneof(
  fc.constant<ObjectMutation>(['without name', (b) => delete b.name]),
  badName(true).map((v): ObjectMutation => [`name=${short(v)}`, setKey('name', v)]),
  badDescription(5000).map((v): ObjectMutation => [
    `description=${short(v)}`,
    setKey('description', v),
  ]),
  fc
    .oneof(
      asciiText(0, 40).filter((s) => !isUUID(s)),
      fc.constantFrom(1, true, {}, [], '00000000-0000-0000-0000-00000000000g', null),
    )
    .map((v): ObjectMutation => [`caseId=${short(v)}`, setKey('caseId', v)]),
  badMetadata.map((v): ObjectMutation => [`metadata=${short(v)}`, setKey('metadata', v)]),
  fc
    .oneof(
      nonStringNonNull,
      fc.constant(null),
      asciiText(0, 7),
      fc.integer({ min: 257, max: 400 }).map((n) => 'p'.repeat(n)),
    )
    .map((v): ObjectMutation => [`joinPassword=${short(v)}`, setKey('joinPassword', v)]),
  fc
    .tuple(
      fc.constantFrom(...SERVER_CONVERSATION_FIELDS, 'participants', 'caseCode'),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([key, v]): ObjectMutation => [`+${key}`, setKey(key, v)]),
  fc
    .tuple(unknownKey(CREATE_KEYS), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, v]): ObjectMutation => [`+${JSON.stringify(key)}`, setKey(key, v)]),
);

const updateMutation: fc.Arbitrary<ObjectMutation> = fc.oneof(
  badName(false).map((v): ObjectMutation => [`name=${short(v)}`, setKey('name', v)]),
  badDescription(5000).map((v): ObjectMutation => [
    `description=${short(v)}`,
    setKey('description', v),
  ]),
  badMetadata.map((v): ObjectMutation => [`metadata=${short(v)}`, setKey('metadata', v)]),
  // On PATCH null is a value for these two (unlink, remove the password).
  fc
    .oneof(
      asciiText(0, 40).filter((s) => !isUUID(s)),
      fc.constantFrom(1, true, {}, [], '00000000-0000-0000-0000-00000000000g'),
    )
    .map((v): ObjectMutation => [`caseId=${short(v)}`, setKey('caseId', v)]),
  fc
    .oneof(
      nonStringNonNull,
      asciiText(0, 7),
      fc.integer({ min: 257, max: 400 }).map((n) => 'p'.repeat(n)),
    )
    .map((v): ObjectMutation => [`joinPassword=${short(v)}`, setKey('joinPassword', v)]),
  fc
    .tuple(
      fc.constantFrom(...SERVER_CONVERSATION_FIELDS, 'participants'),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([key, v]): ObjectMutation => [`+${key}`, setKey(key, v)]),
  fc
    .tuple(unknownKey(UPDATE_KEYS), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, v]): ObjectMutation => [`+${JSON.stringify(key)}`, setKey(key, v)]),
);

const validCreate = fc.record(
  {
    name: fc.uuid().map((u) => `fuzz ${u}`),
    description: asciiText(0, 50),
    metadata: metadataValue,
    joinPassword: asciiText(8, 20),
  },
  { requiredKeys: ['name'] },
);

const validUpdate = fc.record(
  {
    name: fc.uuid().map((u) => `fuzz ${u}`),
    description: asciiText(0, 50),
    metadata: metadataValue,
  },
  { requiredKeys: [] },
);

const wholeBodyGarbage: fc.Arbitrary<{ label: string; body: string }> = fc.oneof(
  fc
    .constantFrom('null', '1', '"x"', 'true', '[]', '[{}]', '[null]')
    .map((body) => ({ label: `body ${body}`, body })),
  deepValue.map((v) => ({ label: 'deep body', body: serialize(v) })),
);

function mutated(
  base: fc.Arbitrary<Record<string, unknown>>,
  mutation: fc.Arbitrary<ObjectMutation>,
): fc.Arbitrary<{ label: string; body: string }> {
  return fc.oneof(
    {
      weight: 15,
      arbitrary: fc
        .tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([body, mutations]) => {
          const copy = { ...body };
          mutations.forEach(([, apply]) => apply(copy));
          return { label: mutations.map(([label]) => label).join(', '), body: serialize(copy) };
        }),
    },
    { weight: 1, arbitrary: wholeBodyGarbage },
  );
}

export const malformedCreateBody = mutated(validCreate, createMutation);
/** `{}` changes nothing, so it is refused too. */
export const malformedUpdateBody = fc.oneof(
  { weight: 20, arbitrary: mutated(validUpdate, updateMutation) },
  { weight: 1, arbitrary: fc.constant({ label: 'empty patch {}', body: '{}' }) },
);

const JOIN_KEYS = ['name', 'password'] as const;
export const malformedJoinBody: fc.Arbitrary<{ label: string; body: string }> = mutated(
  fc.record({ name: asciiText(1, 40), password: asciiText(1, 40) }),
  fc.oneof(
    fc
      .constantFrom('name', 'password')
      .map((key): ObjectMutation => [`without ${key}`, (b) => delete b[key]]),
    badText(1, 200, true).map((v): ObjectMutation => [`name=${short(v)}`, setKey('name', v)]),
    badText(1, 256, true).map((v): ObjectMutation => [
      `password=${short(v)}`,
      setKey('password', v),
    ]),
    fc
      .tuple(unknownKey(JOIN_KEYS), fc.jsonValue({ maxDepth: 2 }))
      .map(([key, v]): ObjectMutation => [`+${JSON.stringify(key)}`, setKey(key, v)]),
  ),
);

/** Well-formed join attempts that can only fail (wrong name or password): 403, then 429. */
export const wrongJoinBody = fc
  .record({ name: asciiText(1, 40), password: asciiText(1, 40) })
  .map((body) => ({ label: 'wrong name/password', body: serialize(body) }));

// ----------------------------------------------------------------------------------
// Bodies that are not JSON

const NON_JSON_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'text/html',
  'application/xml',
  'text/xml',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=XyZ',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/vnd.api+json',
  'application/x-ndjson',
  'image/png',
  'garbage',
  '*/*',
];

/**
 * A body that is not a valid JSON request: another media type (with a payload that would
 * be valid as JSON, form fields, XML, bytes), or `application/json` that does not parse.
 */
export function nonJsonRequest(
  validJsonBody: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<{ label: string; headers: Record<string, string>; body?: string | Buffer }> {
  const payload: fc.Arbitrary<[string, string | Buffer]> = fc.oneof(
    validJsonBody.map((b): [string, string] => ['valid JSON text', JSON.stringify(b)]),
    validJsonBody.map((b): [string, string] => [
      'form fields',
      Object.entries(b)
        .map(
          ([k, v]) =>
            `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`,
        )
        .join('&'),
    ]),
    fc.constant<[string, string]>(['xml', '<conversation><name>x</name></conversation>']),
    fc
      .uint8Array({ minLength: 1, maxLength: 200 })
      .map((bytes): [string, Buffer] => ['bytes', Buffer.from(bytes)]),
    fc.constant<[string, string]>([
      'multipart part',
      '--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--XyZ--\r\n',
    ]),
  );
  const badJson: fc.Arbitrary<string> = fc
    .oneof(
      validJsonBody.map((b) => JSON.stringify(b).slice(0, -1)),
      validJsonBody.map((b) => `${JSON.stringify(b)},`),
      validJsonBody.map((b) => `${JSON.stringify(b)}{}`),
      validJsonBody.map((b) => JSON.stringify(b).replace(/^\{/, '{,')),
      validJsonBody.map((b) => `// comment\n${JSON.stringify(b)}`),
      validJsonBody.map((b) => JSON.stringify(b).replace(/"/g, "'")),
      fc.constantFrom(
        '',
        ' ',
        '{',
        '}',
        '{"a":NaN}',
        '{"a":undefined}',
        "{'a':1}",
        '{"__proto__":{"x":1}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '\u0000',
        '\ufeff{}',
      ),
      fc
        .uint8Array({ minLength: 1, maxLength: 50 })
        .map((bytes) => Buffer.from(bytes).toString('latin1')),
    )
    .filter((s) => {
      try {
        const parsed: unknown = JSON.parse(s);
        return (
          typeof parsed !== 'object' ||
          parsed === null ||
          Array.isArray(parsed) ||
          s.includes('__proto__') ||
          s.includes('constructor')
        );
      } catch {
        return true;
      }
    });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...NON_JSON_TYPES), payload)
        .map(([type, [what, body]]) => ({
          label: `${type} with ${what}`,
          headers: { 'content-type': type },
          body,
        })),
    },
    {
      weight: 2,
      arbitrary: badJson.map((body) => ({
        label: `application/json that does not parse: ${short(body)}`,
        headers: { 'content-type': 'application/json' },
        body,
      })),
    },
    {
      weight: 1,
      arbitrary: payload.map(([what, body]) => ({
        label: `no content-type, ${what}`,
        headers: {},
        body,
      })),
    },
  );
}

export { validCreate, validUpdate };

// ----------------------------------------------------------------------------------
// Query strings

interface QueryKey {
  /** A valid value, encoded. */
  good: fc.Arbitrary<string>;
  /** Values that must be refused (before encoding). */
  bad: fc.Arbitrary<string>;
}

/** Free-text filters of the turn list (SPEC section 10). */
export const TURN_TEXT_FILTERS = ['speaker', 'businessDomain', 'contextDetected'] as const;

/** A parameter taking one of `values`, exactly (case and spaces matter). */
const enumParam = (values: readonly string[]): QueryKey => ({
  good: fc.constantFrom(...values),
  bad: fc
    .oneof(
      fc.constantFrom(...values).map((v) => v.toLowerCase()),
      fc.constantFrom(...values).map((v) => v.toUpperCase()),
      fc.constantFrom(...values).map((v) => ` ${v}`),
      fc.constantFrom('', '1', '0', 'yes', 'null', '*'),
      asciiText(0, 10),
    )
    .filter((v) => !values.includes(v)),
});

/** An ISO 8601 instant (`from`/`to` of the turn list). */
const timeParam: QueryKey = {
  good: fc
    .date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z') })
    .filter((d) => !Number.isNaN(d.getTime()))
    .map((d) => d.toISOString()),
  bad: fc
    .oneof(
      fc.constantFrom('yesterday', '2026-13-01T00:00:00Z', '2026-02-30', 'now', '', '0', '-1'),
      asciiText(0, 10),
    )
    .filter((v) => !/^\d{4}/.test(v) || v === '2026-13-01T00:00:00Z' || v === '2026-02-30'),
};

const intParam = (min: number, max: number): QueryKey => ({
  good: fc.integer({ min, max }).map(String),
  bad: fc
    .oneof(
      fc.constantFrom(...NAN_ISH),
      fc.integer({ min: -(2 ** 31), max: min - 1 }).map(String),
      fc.integer({ min: max + 1, max: 2 ** 31 }).map(String),
      fc.constantFrom(
        '99999999999999999999',
        '1e300',
        '-1e300',
        '9007199254740993',
        `${max}.5`,
        '1.5',
      ),
      fc.double({ noNaN: true }).map(String),
      asciiText(0, 10),
    )
    .filter((v) => {
      const n = Number(v);
      return !(Number.isInteger(n) && n >= min && n <= max);
    }),
});

export const QUERY_KEYS = {
  list: {
    page: intParam(1, 1_000_000),
    limit: intParam(1, 100),
    status: {
      good: fc.constantFrom('active', 'archived'),
      bad: fc
        .oneof(
          fc.constantFrom('deleted', 'ACTIVE', 'Active', ' active', '', 'all', '*'),
          asciiText(0, 10),
        )
        .filter((v) => v !== 'active' && v !== 'archived'),
    },
    caseId: {
      good: fc.uuid(),
      bad: fc
        .oneof(
          fc.uuid().map((u) => `${u}x`),
          fc.uuid().map((u) => u.slice(1)),
          fc.constantFrom('', 'null', '00000000-0000-0000-0000-00000000000g', "' OR 1=1 --"),
          asciiText(0, 40),
        )
        .filter((v) => !isUUID(v)),
    },
  },
  turns: {
    after: {
      good: fc.integer({ min: 0, max: 999_999_999 }).map(String),
      bad: fc
        .oneof(
          fc.constantFrom(
            '',
            '-1',
            '1.5',
            '1234567890',
            ' 1',
            '1 ',
            '0x1',
            '1e3',
            'abc',
            '+1',
            '١',
          ),
          asciiText(0, 12),
        )
        .filter((v) => !/^\d{1,9}$/.test(v)),
    },
    limit: intParam(1, 100),
    confidenceLevel: enumParam(['HIGH', 'MEDIUM', 'LOW']),
    cleaningLevel: enumParam(CLEANING_LEVELS),
    cleaned: enumParam(['true', 'false']),
    errors: enumParam(['true', 'false']),
    from: timeParam,
    to: timeParam,
  },
  window: { size: intParam(1, 200), before: intParam(1, MAX_MESSAGE_NUMBER + 1) },
  recent: { minutes: intParam(1, 1440) },
} satisfies Record<string, Record<string, QueryKey>>;

/**
 * A query string with at least one parameter that must be refused: a bad value for a
 * known key, a repeated key (an array), a bracketed key, or an unknown key; mixed with
 * valid parameters and noise such as empty pairs.
 */
export function malformedQuery(
  keys: Record<string, QueryKey>,
  /** Keys the route also accepts, with free text (not fuzzed here: never "unknown"). */
  alsoAccepted: readonly string[] = [],
): fc.Arbitrary<{ label: string; query: string }> {
  const names = Object.keys(keys);
  const known = (name: string) => keys[name]!;
  const bad: fc.Arbitrary<[string, string]> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .constantFrom(...names)
        .chain((name) =>
          known(name).bad.map((v): [string, string] => [
            `${name}=${JSON.stringify(v)}`,
            `${name}=${percentEncode(v)}`,
          ]),
        ),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...names)
        .chain((name) => fc.tuple(fc.constant(name), known(name).good, known(name).good))
        .map(([name, a, b]): [string, string] => [
          `${name} repeated`,
          `${name}=${percentEncode(a)}&${name}=${percentEncode(b)}`,
        ]),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...names), fc.constantFrom('[]', '[0]', '[a]', '.x'))
        .chain(([name, suffix]) =>
          known(name).good.map((v): [string, string] => [
            `${name}${suffix}`,
            `${percentEncode(name + suffix)}=${percentEncode(v)}`,
          ]),
        ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(unknownKey([...names, ...alsoAccepted]), asciiText(0, 10))
        .map(([k, v]): [string, string] => [
          `+${JSON.stringify(k)}`,
          `${percentEncode(k)}=${percentEncode(v)}`,
        ]),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...names),
          fc.constantFrom(
            '%FF',
            '%00',
            '%C0%AF',
            '%E2%82',
            '%ED%A0%80',
            '%25',
            '%2',
            '%',
            '%%',
            '%GG',
          ),
        )
        .map(([name, v]): [string, string] => [`${name}=${v} (raw)`, `${name}=${v}`]),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...names), fc.integer({ min: 1000, max: 6000 }))
        .map(([name, n]): [string, string] => [`${name}= ${n} digits`, `${name}=${'9'.repeat(n)}`]),
    },
  );
  const good: fc.Arbitrary<string> = fc
    .constantFrom(...names)
    .chain((name) => known(name).good.map((v) => `${name}=${percentEncode(v)}`));
  const noise = fc.constantFrom('', '&', '&&');
  return fc
    .tuple(bad, fc.array(good, { maxLength: 2 }), noise, fc.nat())
    .map(([[label, pair], goods, extra, seed]) => {
      // Valid keys appear once each and never beside the bad pair's key (twice is an array).
      const keyOf = (p: string) => p.split('=')[0]!;
      const used = new Set([keyOf(pair)]);
      const pairs = goods.filter((p) => !used.has(keyOf(p)) && !!used.add(keyOf(p)));
      pairs.splice(seed % (pairs.length + 1), 0, pair);
      return { label, query: pairs.join('&') + extra };
    });
}

// ----------------------------------------------------------------------------------
// Every PATCH route (F9): nulls, wrong types and boundary values

/** What a PATCH body field takes, enough to generate what it must refuse. */
export type FieldRule =
  | { kind: 'text'; min: number; max: number; multiline?: boolean }
  | { kind: 'enum'; values: readonly string[]; nearMisses: readonly string[] }
  | { kind: 'boolean' }
  | { kind: 'email' }
  | { kind: 'password' }
  | { kind: 'roleName' }
  | { kind: 'permissions' }
  | { kind: 'json'; maxBytes: number };

/** Values a field following `rule` must refuse; `null` is among them for every rule. */
export function refusedValue(rule: FieldRule): fc.Arbitrary<unknown> {
  const common = [fc.constant(null)];
  switch (rule.kind) {
    case 'text':
      return fc.oneof(
        ...common,
        badText(rule.min, rule.max, rule.min > 0),
        controlText(!rule.multiline),
        fc.constant('x'.repeat(rule.max + 1)),
      );
    case 'enum':
      return fc.oneof(
        ...common,
        nonStringNonNull,
        fc.constantFrom(...rule.nearMisses, '', ' ', ...rule.values.map((v) => v.toUpperCase())),
      );
    case 'boolean':
      return fc.oneof(...common, badBoolean);
    case 'email':
      return fc.oneof(
        ...common,
        nonStringNonNull,
        fc.constantFrom('', 'no-at-sign', 'a@', '@b.org', `a@${'b'.repeat(250)}.org`),
      );
    case 'password':
      return fc.oneof(
        ...common,
        nonStringNonNull,
        fc.integer({ min: 0, max: 11 }).map((n) => 'p'.repeat(n)),
        fc.integer({ min: 257, max: 300 }).map((n) => 'p'.repeat(n)),
      );
    case 'roleName':
      return fc.oneof(
        ...common,
        nonStringNonNull,
        fc.constantFrom('', 'a', 'Admin', 'case-worker', '1role', 'r'.repeat(65)),
      );
    case 'permissions':
      return fc.oneof(
        ...common,
        fc.constantFrom('cases:read', 1, {}, [null], [1], ['cases'], ['CASES:READ'], [':']),
        fc.constant(Array.from({ length: 101 }, () => 'cases:read')),
      );
    case 'json':
      return fc.oneof(...common, fc.constantFrom('x', 1, true, [], [1]), oversizedMetadata);
  }
}

/**
 * A PATCH body for a route whose fields follow `rules`: one to three fields set to a
 * value they must refuse, alongside (maybe) valid values for others from `valid`.
 */
export function malformedPatch(
  rules: Record<string, FieldRule>,
  valid: Record<string, unknown>,
): fc.Arbitrary<{ label: string; body: string }> {
  const fields = Object.keys(rules);
  return fc
    .tuple(
      fc.uniqueArray(fc.constantFrom(...fields), { minLength: 1, maxLength: 3 }),
      fc.subarray(Object.keys(valid)),
    )
    .chain(([bad, good]) =>
      fc.tuple(...bad.map((field) => refusedValue(rules[field]!))).map((values) => {
        const body: Record<string, unknown> = {};
        for (const field of good) body[field] = valid[field];
        bad.forEach((field, i) => (body[field] = values[i]));
        return {
          label: bad.map((field, i) => `${field}=${short(values[i])}`).join(', '),
          body: serialize(body),
        };
      }),
    );
}

/** The body of PATCH /transcriptions/:id/speakers: a map whose values must be names. */
export const malformedSpeakerNames: fc.Arbitrary<{ label: string; body: string }> = fc
  .tuple(
    fc.constantFrom('Speaker_0', 'Speaker_1'),
    fc.oneof(
      fc.constant(null),
      nonStringNonNull,
      fc.constantFrom('', '   ', 'n'.repeat(101)),
      controlText(true),
    ),
  )
  .map(([label, value]) => ({
    label: `${label}=${short(value)}`,
    body: serialize({ [label]: value }),
  }));
