import { createHash, Hash } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json';
import type { RevisedTurn, TurnRecord } from './turn-record';

/**
 * SHA-256 over a conversation's turns in messageNumber order, one canonical JSON line
 * per turn. Only what was said is covered (not server timestamps), so re-persisting
 * cannot change a seal but any edit of a sealed transcript does.
 */
export class TranscriptSeal {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  /**
   * The cleaning fields are the latest revision's (the row holds it). The revision
   * number, and the fields added with revisions, enter the line only when set, so a
   * transcript sealed before revisions existed still verifies.
   */
  add(turn: TurnRecord | RevisedTurn): void {
    const revision = 'revision' in turn ? turn.revision : 1;
    this.count += 1;
    this.hash.update(
      canonicalJson({
        messageNumber: turn.messageNumber,
        speaker: turn.speaker,
        rawText: turn.rawText,
        cleanedText: turn.cleanedText,
        spokenAt: new Date(turn.spokenAt).toISOString(),
        confidence: turn.confidence,
        cleaningApplied: turn.cleaningApplied,
        cleaningLevel: turn.cleaningLevel,
        corrections: turn.corrections,
        contextDetected: turn.contextDetected,
        businessDomain: turn.businessDomain,
        conversationFlow: turn.conversationFlow,
        aiModelUsed: turn.aiModelUsed,
        transcriptionErrorDetected: turn.transcriptionErrorDetected,
        processingTimeMs: turn.processingTimeMs,
        slidingWindowSize: turn.slidingWindowSize,
        contextTurnsUsed: turn.contextTurnsUsed,
        ...(revision > 1 ? { revision } : {}),
        ...(turn.engineRequestId != null ? { engineRequestId: turn.engineRequestId } : {}),
        ...(turn.websocketLatencyMs != null ? { websocketLatencyMs: turn.websocketLatencyMs } : {}),
      }),
    );
    this.hash.update('\n');
  }

  get turns(): number {
    return this.count;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Missing messageNumbers between 1 and the highest known, as inclusive ranges.
 * `ranges` are the persisted runs (sorted, disjoint); `extra` are buffered numbers.
 */
export function gapsOf(
  ranges: [number, number][],
  extra: number[],
): { from: number; to: number }[] {
  const runs = [...ranges, ...extra.map((n): [number, number] => [n, n])].sort(
    (a, b) => a[0] - b[0],
  );
  const gaps: { from: number; to: number }[] = [];
  let covered = 0;
  for (const [first, last] of runs) {
    if (first > covered + 1) gaps.push({ from: covered + 1, to: first - 1 });
    covered = Math.max(covered, last);
  }
  return gaps;
}
