import { PRINTABLE, PRINTABLE_MULTILINE } from '../../core/http/validation-patterns';
import { MAX_MESSAGE_NUMBER, MAX_TURNS_PER_REQUEST, TurnDto, TurnBatchDto } from './turn.dto';

/**
 * A quick "certainly valid" for the well-formed turns live ingestion sends, hundreds per
 * request: class-transformer + class-validator cost ~20 µs per turn, most of the API's
 * share of P1. It only ever says yes when the DTO rules (turn.dto.ts) would also accept
 * the turn — a property test holds it to that — and says no at the first doubt; every
 * "no" goes through the DTO rules, which alone decide and word the errors.
 */
export function isCertainlyValidBody(body: unknown): body is TurnDto | TurnBatchDto {
  if (!isPlainObject(body)) return false;
  if (!('turns' in body)) return isCertainlyValidTurn(body);
  if (!hasOnlyKeys(body, BATCH_KEYS)) return false;
  const turns = body.turns;
  if (!Array.isArray(turns) || turns.length < 1 || turns.length > MAX_TURNS_PER_REQUEST) {
    return false;
  }
  for (const turn of turns) if (!isCertainlyValidTurn(turn)) return false;
  return true;
}

const BATCH_KEYS = new Set(['turns']);
/**
 * Written out rather than read from the DTO's metadata on purpose: a field added to
 * TurnDto is then unknown here, so turns carrying it take the DTO path until this check
 * learns its rule — never accepted unchecked.
 */
const TURN_KEYS = new Set([
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
]);
const CORRECTION_KEYS = new Set(['original', 'corrected', 'confidence', 'reason', 'position']);
const POSITION_KEYS = new Set(['start', 'end']);
export const CLEANING_LEVELS = new Set(['none', 'light', 'full']);

function isCertainlyValidTurn(turn: unknown): boolean {
  if (!isPlainObject(turn) || !hasOnlyKeys(turn, TURN_KEYS)) return false;
  return (
    isIntIn(turn.messageNumber, 1, MAX_MESSAGE_NUMBER) &&
    isText(turn.speaker, 1, 100, PRINTABLE) &&
    isText(turn.rawText, 1, 10_000, PRINTABLE_MULTILINE) &&
    isAbsentOr(turn.cleanedText, (v) => isText(v, 0, 10_000, PRINTABLE_MULTILINE)) &&
    isPlainTimestamp(turn.spokenAt) &&
    isNumberIn(turn.confidence, 0, 1) &&
    isAbsentOr(turn.cleaningApplied, isBoolean) &&
    isAbsentOr(turn.cleaningLevel, (v) => typeof v === 'string' && CLEANING_LEVELS.has(v)) &&
    isAbsentOr(turn.corrections, isCorrectionList) &&
    isAbsentOr(turn.contextDetected, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(turn.businessDomain, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(turn.conversationFlow, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(turn.aiModelUsed, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(turn.transcriptionErrorDetected, isBoolean) &&
    isAbsentOr(turn.processingTimeMs, (v) => isIntIn(v, 0, 86_400_000)) &&
    isAbsentOr(turn.slidingWindowSize, (v) => isIntIn(v, 0, 100_000)) &&
    isAbsentOr(turn.contextTurnsUsed, (v) => isIntIn(v, 0, 100_000))
  );
}

export function isCorrectionList(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > 100) return false;
  for (const correction of value) {
    if (
      !isPlainObject(correction) ||
      !hasOnlyKeys(correction, CORRECTION_KEYS) ||
      !isText(correction.original, 0, 2000, PRINTABLE_MULTILINE) ||
      !isText(correction.corrected, 0, 2000, PRINTABLE_MULTILINE) ||
      !isNumberIn(correction.confidence, 0, 1) ||
      !isText(correction.reason, 0, 500, PRINTABLE)
    ) {
      return false;
    }
    const position = correction.position;
    if (
      !isPlainObject(position) ||
      !hasOnlyKeys(position, POSITION_KEYS) ||
      !isIntIn(position.start, 0, 1_000_000) ||
      !isIntIn(position.end, 0, 1_000_000)
    ) {
      return false;
    }
  }
  return true;
}

/** What JSON.parse makes of `{…}`; class instances, arrays and null are left to the DTO rules. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

export function hasOnlyKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key of Object.keys(value)) if (!allowed.has(key)) return false;
  return true;
}

/** `@IsOptional()` skips both. */
export function isAbsentOr(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || value === null || check(value);
}

export function isBoolean(value: unknown): boolean {
  return typeof value === 'boolean';
}

export function isIntIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isNumberIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/**
 * MinLength/MaxLength count a surrogate pair as one character and variation selectors
 * (U+FE0E, U+FE0F) as none, so that count is at most `length`: `length <= max` is
 * enough for the maximum, and one code unit other than a selector for a minimum of 1.
 * `allowed` is the very pattern the DTO's IsPrintableText / IsMultilineText match with
 * (control and bidi-override characters refused), one precompiled regex test per string.
 */
export function isText(value: unknown, min: 0 | 1, max: number, allowed: RegExp): boolean {
  if (typeof value !== 'string' || value.length > max) return false;
  if (min === 1 && !NOT_ONLY_SELECTORS.test(value)) return false;
  return allowed.test(value);
}
const NOT_ONLY_SELECTORS = /[^\uFE0E\uFE0F]/;

/**
 * The one shape clients send (`2026-11-22T10:15:30.123Z`, or with an offset), a real
 * calendar date and time, years 1000-9999: a subset of what IsDateString (strict) and
 * IsStorableTimestamp accept.
 */
const TIMESTAMP =
  /^([1-9]\d{3})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

function isPlainTimestamp(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  // An offset can carry 9999-12-31 past the year 9999; leave the edges to the DTO rules.
  if (year === 9999 && month === 12 && day === 31) return false;
  return Number.isFinite(Date.parse(value));
}
