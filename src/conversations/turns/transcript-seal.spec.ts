import { gapsOf, TranscriptSeal } from './transcript-seal';
import type { TurnRecord } from './turn-record';

function turn(messageNumber: number, rawText = `text ${messageNumber}`): TurnRecord {
  return {
    conversationId: 'c',
    messageNumber,
    speaker: 'A',
    rawText,
    cleanedText: null,
    spokenAt: '2026-01-01T00:00:00.000Z',
    confidence: 0.9,
    cleaningApplied: false,
    cleaningLevel: 'none',
    corrections: [],
    contextDetected: null,
    businessDomain: null,
    conversationFlow: null,
    aiModelUsed: null,
    transcriptionErrorDetected: false,
    processingTimeMs: null,
    slidingWindowSize: null,
    contextTurnsUsed: null,
    ingestedBy: null,
    receivedAt: '2026-01-01T00:00:01.000Z',
  };
}

function sealOf(turns: TurnRecord[]): string {
  const seal = new TranscriptSeal();
  turns.forEach((t) => seal.add(t));
  return seal.digest();
}

describe('TranscriptSeal', () => {
  it('is stable for the same transcript and ignores server timestamps', () => {
    expect(sealOf([turn(1), turn(2)])).toBe(
      sealOf([turn(1), { ...turn(2), receivedAt: '2030-01-01T00:00:00.000Z' }]),
    );
  });

  it('changes when any said word changes', () => {
    expect(sealOf([turn(1), turn(2)])).not.toBe(sealOf([turn(1), turn(2, 'edited')]));
  });
});

describe('gapsOf', () => {
  it('reports missing ranges from 1 to the highest number, counting buffered numbers as present', () => {
    expect(
      gapsOf(
        [
          [3, 5],
          [9, 9],
        ],
        [7],
      ),
    ).toEqual([
      { from: 1, to: 2 },
      { from: 6, to: 6 },
      { from: 8, to: 8 },
    ]);
  });

  it('reports nothing for a complete run', () => {
    expect(gapsOf([[1, 100]], [101, 102])).toEqual([]);
    expect(gapsOf([], [])).toEqual([]);
  });
});
