import type { CleaningLevel, TurnCorrection } from '../entities/turn.entity';

/**
 * A turn as it travels through Redis (live window, buffer) and into Postgres. Times
 * are ISO strings; `receivedAt` is stamped by the API when the turn is accepted.
 */
export interface TurnRecord {
  conversationId: string;
  messageNumber: number;
  speaker: string;
  rawText: string;
  cleanedText: string | null;
  spokenAt: string;
  confidence: number;
  cleaningApplied: boolean;
  cleaningLevel: CleaningLevel;
  corrections: TurnCorrection[];
  contextDetected: string | null;
  businessDomain: string | null;
  conversationFlow: string | null;
  aiModelUsed: string | null;
  transcriptionErrorDetected: boolean;
  processingTimeMs: number | null;
  slidingWindowSize: number | null;
  contextTurnsUsed: number | null;
  /** Absent on turns buffered before these fields existed: read as null. */
  engineRequestId?: string | null;
  websocketLatencyMs?: number | null;
  ingestedBy: string | null;
  receivedAt: string;
}

/** The fields a revision (PATCH) may change; everything else about a turn is fixed. */
export const CLEANING_FIELDS = [
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
] as const;

export type CleaningField = (typeof CLEANING_FIELDS)[number];
export type CleaningState = { [K in CleaningField]-?: Exclude<TurnRecord[K], undefined> };
export type CleaningChanges = Partial<CleaningState>;

/** A turn with its revision number: the form every read returns. */
export interface RevisedTurn extends TurnRecord {
  revision: number;
  /** When the latest revision was made; null for a turn never revised. */
  updatedAt: string | null;
}

/** A turn's revision: 1 for the turn as posted, until a PATCH numbers it. */
export function revisionOf(turn: TurnRecord | RevisedTurn): number {
  return 'revision' in turn ? turn.revision : 1;
}

export interface RevisionHistoryEntry {
  revision: number;
  changedBy: string | null;
  changedAt: string;
  changes: CleaningChanges;
}

/**
 * A revision as it travels through the Redis buffer into `turn_revisions`. `state` is
 * every cleaning field as it is after this revision, so the worker can apply the highest
 * revision alone, whatever order batches commit in. Revision 2 carries revision 1 (the
 * cleaning fields as posted) as `original`, since the turn row is about to lose them.
 */
export interface RevisionRecord extends RevisionHistoryEntry {
  conversationId: string;
  messageNumber: number;
  state: CleaningState;
  original?: RevisionHistoryEntry;
}

export function cleaningStateOf(turn: TurnRecord): CleaningState {
  return {
    cleanedText: turn.cleanedText,
    cleaningApplied: turn.cleaningApplied,
    cleaningLevel: turn.cleaningLevel,
    corrections: turn.corrections,
    contextDetected: turn.contextDetected,
    businessDomain: turn.businessDomain,
    conversationFlow: turn.conversationFlow,
    aiModelUsed: turn.aiModelUsed,
    transcriptionErrorDetected: turn.transcriptionErrorDetected,
    processingTimeMs: turn.processingTimeMs,
    engineRequestId: turn.engineRequestId ?? null,
    websocketLatencyMs: turn.websocketLatencyMs ?? null,
  };
}

export type ConfidenceLevel = 'HIGH' | 'MEDIUM' | 'LOW';

/** SPEC section 6: HIGH ≥ 0.85, MEDIUM ≥ 0.6, LOW otherwise. */
export function confidenceLevelOf(confidence: number): ConfidenceLevel {
  if (confidence >= 0.85) return 'HIGH';
  if (confidence >= 0.6) return 'MEDIUM';
  return 'LOW';
}
