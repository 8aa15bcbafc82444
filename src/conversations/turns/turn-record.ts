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
  ingestedBy: string | null;
  receivedAt: string;
}

export type ConfidenceLevel = 'HIGH' | 'MEDIUM' | 'LOW';

/** SPEC section 6: HIGH ≥ 0.85, MEDIUM ≥ 0.6, LOW otherwise. */
export function confidenceLevelOf(confidence: number): ConfidenceLevel {
  if (confidence >= 0.85) return 'HIGH';
  if (confidence >= 0.6) return 'MEDIUM';
  return 'LOW';
}
