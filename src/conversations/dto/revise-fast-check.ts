import { PRINTABLE, PRINTABLE_MULTILINE } from '../../core/http/validation-patterns';
import {
  CLEANING_LEVELS,
  hasOnlyKeys,
  isAbsentOr,
  isBoolean,
  isCorrectionList,
  isIntIn,
  isPlainObject,
  isText,
} from './turn-fast-check';
import type { ReviseTurnDto } from './turn.dto';

/**
 * A quick "certainly valid" for the PATCH bodies the cleaning engine sends, as
 * isCertainlyValidBody is for turns: class-transformer + class-validator on ReviseTurnDto
 * and its nested corrections were the largest share of a PATCH's CPU. It only says yes
 * when the DTO rules would also accept the body (a property test holds it to that); any
 * doubt goes through the DTO rules, which alone decide and word the errors.
 */
export function isCertainlyValidRevision(body: unknown): body is ReviseTurnDto {
  if (!isPlainObject(body) || !hasOnlyKeys(body, REVISE_KEYS)) return false;
  return (
    isAbsentOr(body.cleanedText, (v) => isText(v, 0, 10_000, PRINTABLE_MULTILINE)) &&
    isOmittedOr(body.cleaningApplied, isBoolean) &&
    isOmittedOr(body.cleaningLevel, (v) => typeof v === 'string' && CLEANING_LEVELS.has(v)) &&
    isOmittedOr(body.corrections, isCorrectionList) &&
    isAbsentOr(body.contextDetected, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(body.businessDomain, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(body.conversationFlow, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(body.aiModelUsed, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isOmittedOr(body.transcriptionErrorDetected, isBoolean) &&
    isAbsentOr(body.processingTimeMs, (v) => isIntIn(v, 0, 86_400_000)) &&
    isAbsentOr(body.engineRequestId, (v) => isText(v, 0, 200, PRINTABLE)) &&
    isAbsentOr(body.websocketLatencyMs, (v) => isIntIn(v, 0, 86_400_000))
  );
}

/** Written out, not read from the DTO, for the reason TURN_KEYS gives (turn-fast-check.ts). */
const REVISE_KEYS = new Set([
  'cleanedText',
  'cleaningApplied',
  'cleaningLevel',
  'corrections',
  'contextDetected',
  'businessDomain',
  'conversationFlow',
  'aiModelUsed',
  'transcriptionErrorDetected',
  'processingTimeMs',
  'engineRequestId',
  'websocketLatencyMs',
]);

/** `@IsOmittable()`: left out is fine, `null` is not. */
function isOmittedOr(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === undefined || check(value);
}
