import type { TranscriptSegment } from './entities/transcription.entity';
import {
  contentOf,
  overallConfidence,
  renameSpeakers,
  segmentProblems,
  speakersOf,
} from './segments';

const segment = (start: number, end: number, extra: Partial<TranscriptSegment> = {}) => ({
  start,
  end,
  speaker: null,
  text: 'x',
  confidence: null,
  ...extra,
});

describe('segment rules', () => {
  it('accepts ordered segments within the duration, overlaps included', () => {
    expect(segmentProblems([segment(0, 2), segment(1.5, 3), segment(3, 10)], 10)).toEqual([]);
    expect(segmentProblems([segment(0, 2)], null)).toEqual([]);
  });

  it('names the exact field of each broken rule', () => {
    const problems = segmentProblems(
      [segment(0, 1), segment(2, 3), segment(1, 2), segment(4, 4), segment(5, 12.1)],
      12,
    );
    expect(problems.map((p) => p.field)).toEqual([
      'segments[2].start',
      'segments[3].end',
      'segments[4].end',
    ]);
    expect(problems[1]!.message).toMatch(/must be greater than segments\[3\]\.start/);
    expect(problems[2]!.message).toMatch(/past the end of the audio \(12 s\)/);
  });

  it('tolerates engines rounding a few milliseconds past the end', () => {
    expect(segmentProblems([segment(0, 10.04)], 10)).toEqual([]);
  });

  it('derives content and a duration-weighted confidence', () => {
    const s = [
      segment(0, 1, { text: ' Hello ', confidence: 1 }),
      segment(1, 4, { text: '', confidence: 0.5 }),
      segment(4, 5, { text: 'there' }),
    ];
    expect(contentOf(s)).toBe('Hello\nthere');
    expect(overallConfidence(s)).toBe(0.625);
    expect(overallConfidence([segment(0, 1)])).toBeNull();
  });

  it('renames only the speakers it is given', () => {
    const s = [
      segment(0, 1, { speaker: 'Speaker_0' }),
      segment(1, 2, { speaker: 'Speaker_1' }),
      segment(2, 3),
    ];
    expect(speakersOf(s)).toEqual(new Set(['Speaker_0', 'Speaker_1']));
    expect(renameSpeakers(s, new Map([['Speaker_0', 'Alice']])).map((x) => x.speaker)).toEqual([
      'Alice',
      'Speaker_1',
      null,
    ]);
  });
});
