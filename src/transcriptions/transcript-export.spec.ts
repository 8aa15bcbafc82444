import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TranscriptSegment } from './entities/transcription.entity';
import { escapeVtt, formatTimestamp, toSrt, toText, toVtt } from './transcript-export';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'transcripts');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const segments = (
  JSON.parse(fixture('segments.json')) as (Partial<TranscriptSegment> & {
    start: number;
    end: number;
    text: string;
  })[]
).map((s) => ({ ...s, speaker: s.speaker ?? null, confidence: s.confidence ?? null }));

describe('transcript export', () => {
  it('formats timestamps to the millisecond, without floating-point drift', () => {
    expect(formatTimestamp(62.345, ',')).toBe('00:01:02,345');
    expect(formatTimestamp(64, '.')).toBe('00:01:04.000');
    expect(formatTimestamp(0.0005, ',')).toBe('00:00:00,001');
    expect(formatTimestamp(3725.007, '.')).toBe('01:02:05.007');
    expect(formatTimestamp(59.9996, ',')).toBe('00:01:00,000');
    expect(formatTimestamp(360_000, ',')).toBe('100:00:00,000');
  });

  it('writes SubRip exactly as the hand-checked file', () => {
    expect(toSrt(segments)).toBe(fixture('expected.srt'));
  });

  it('writes WebVTT exactly as the hand-checked file', () => {
    expect(toVtt(segments)).toBe(fixture('expected.vtt'));
  });

  it('writes plain text exactly as the hand-checked file', () => {
    expect(toText('ignored when there are segments', segments)).toBe(fixture('expected.txt'));
  });

  it('escapes WebVTT markup, so cue text can never close a cue or open a tag', () => {
    expect(escapeVtt('a --> b <c.x> & d')).toBe('a --&gt; b &lt;c.x&gt; &amp; d');
    const vtt = toVtt([{ start: 0, end: 1, speaker: 'A <b> & B', text: 'x', confidence: null }]);
    expect(vtt).toContain('<v A &lt;b&gt; &amp; B>x</v>');
  });

  it('writes an empty transcript as a header only, and text without segments as the content', () => {
    expect(toVtt([])).toBe('WEBVTT\n');
    expect(toSrt([])).toBe('');
    expect(toText('Full text only', [])).toBe('Full text only\n');
  });
});
