import { ConfidenceLevel, confidenceLevelOf, TurnRecord } from './turn-record';
import type { CleaningLevel } from '../entities/turn.entity';

/** Filters of `GET /conversations/:id/turns` (SPEC section 10), AND-combined. */
export interface TurnFilter {
  speaker?: string;
  businessDomain?: string;
  contextDetected?: string;
  confidenceLevel?: ConfidenceLevel;
  cleaningLevel?: CleaningLevel;
  /** `cleaningApplied` */
  cleaned?: boolean;
  /** `transcriptionErrorDetected` */
  errors?: boolean;
  /** spokenAt ≥ from */
  from?: Date;
  /** spokenAt < to */
  to?: Date;
}

/**
 * The confidence level in SQL, spelled exactly as the expression index of migration
 * 1797004000001 (an expression index is used only for the very same expression).
 */
export const CONFIDENCE_LEVEL_SQL = `(CASE WHEN confidence >= 0.85 THEN 'HIGH' WHEN confidence >= 0.6 THEN 'MEDIUM' ELSE 'LOW' END)`;

export function isFiltered(filter: TurnFilter): boolean {
  return Object.values(filter).some((value) => value !== undefined);
}

/**
 * SQL conditions on table alias `t` for a filter; `bind` adds a parameter and returns its
 * placeholder. Each condition is one an index of migration 1797004000001 serves.
 */
export function filterConditions(filter: TurnFilter, bind: (value: unknown) => string): string[] {
  const conditions: string[] = [];
  if (filter.speaker !== undefined) conditions.push(`t.speaker = ${bind(filter.speaker)}`);
  if (filter.businessDomain !== undefined)
    conditions.push(`t.business_domain = ${bind(filter.businessDomain)}`);
  if (filter.contextDetected !== undefined)
    conditions.push(`t.context_detected = ${bind(filter.contextDetected)}`);
  if (filter.confidenceLevel !== undefined)
    conditions.push(`${CONFIDENCE_LEVEL_SQL} = ${bind(filter.confidenceLevel)}`);
  if (filter.cleaningLevel !== undefined)
    conditions.push(`t.cleaning_level = ${bind(filter.cleaningLevel)}`);
  if (filter.cleaned !== undefined)
    conditions.push(filter.cleaned ? 't.cleaning_applied' : 'NOT t.cleaning_applied');
  if (filter.errors !== undefined)
    conditions.push(
      filter.errors ? 't.transcription_error_detected' : 'NOT t.transcription_error_detected',
    );
  if (filter.from !== undefined) conditions.push(`t.spoken_at >= ${bind(filter.from)}`);
  if (filter.to !== undefined) conditions.push(`t.spoken_at < ${bind(filter.to)}`);
  return conditions;
}

/** The same filter on a turn held in Redis (buffered, or revised and not yet persisted). */
export function matchesFilter(turn: TurnRecord, filter: TurnFilter): boolean {
  const spokenAt = Date.parse(turn.spokenAt);
  return (
    (filter.speaker === undefined || turn.speaker === filter.speaker) &&
    (filter.businessDomain === undefined || turn.businessDomain === filter.businessDomain) &&
    (filter.contextDetected === undefined || turn.contextDetected === filter.contextDetected) &&
    (filter.confidenceLevel === undefined ||
      confidenceLevelOf(Math.fround(turn.confidence)) === filter.confidenceLevel) &&
    (filter.cleaningLevel === undefined || turn.cleaningLevel === filter.cleaningLevel) &&
    (filter.cleaned === undefined || turn.cleaningApplied === filter.cleaned) &&
    (filter.errors === undefined || turn.transcriptionErrorDetected === filter.errors) &&
    (filter.from === undefined || spokenAt >= filter.from.getTime()) &&
    (filter.to === undefined || spokenAt < filter.to.getTime())
  );
}
