import { toSrt } from './transcript-export';
import { parseJsonTranscript, parseSrt, TranscriptImportError } from './transcript-import';

describe('parseSrt', () => {
  it('reads cues with speakers, multi-line text and CRLF line ends', () => {
    const srt =
      '1\r\n00:00:01,000 --> 00:00:02,500\r\nAlice: Hello there\r\n\r\n2\r\n00:01:02,345 --> 00:01:04,000\r\nfirst line\r\nsecond line\r\n';
    expect(parseSrt(srt)).toEqual([
      { start: 1, end: 2.5, speaker: 'Alice', text: 'Hello there' },
      { start: 62.345, end: 64, text: 'first line\nsecond line' },
    ]);
  });

  it('imports back what the SRT export writes', () => {
    const segments = [
      { start: 0.5, end: 1.25, speaker: 'Speaker_0', text: 'One.', confidence: null },
      { start: 3661.001, end: 3662, speaker: null, text: 'Two\nlines', confidence: null },
    ];
    expect(parseSrt(toSrt(segments))).toEqual([
      { start: 0.5, end: 1.25, speaker: 'Speaker_0', text: 'One.' },
      { start: 3661.001, end: 3662, text: 'Two\nlines' },
    ]);
  });

  it('names the cue that has no timing or no text', () => {
    expect(() => parseSrt('1\nhello\n')).toThrow(
      new TranscriptImportError('cue 1: no "00:00:01,000 --> 00:00:02,000" timing line'),
    );
    expect(() => parseSrt('1\n00:00:01,000 --> 00:00:02,000\n')).toThrow(/cue 1: no text/);
  });
});

describe('parseJsonTranscript', () => {
  it('takes a POST body, a bare array of segments, and refuses anything else', () => {
    expect(parseJsonTranscript('{"segments":[],"engine":"x"}')).toEqual({
      segments: [],
      engine: 'x',
    });
    expect(parseJsonTranscript('[{"start":0,"end":1,"text":"a"}]')).toEqual({
      segments: [{ start: 0, end: 1, text: 'a' }],
    });
    expect(() => parseJsonTranscript('"text"')).toThrow(TranscriptImportError);
    expect(() => parseJsonTranscript('{bad')).toThrow(/not valid JSON/);
  });
});
