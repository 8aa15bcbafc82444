/** A segment read from an imported file, before validation. */
export interface ImportedSegment {
  start: number;
  end: number;
  speaker?: string;
  text: string;
}

const TIMING = /^(\d{1,4}):(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(\d{1,4}):(\d{2}):(\d{2})[,.](\d{3})/;
const SPEAKER = /^([^:\n]{1,100}):\s+(.+)$/s;

const seconds = (h: string, m: string, s: string, ms: string): number =>
  Number(h) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000;

export class TranscriptImportError extends Error {}

/**
 * SubRip cues as segments: `HH:MM:SS,mmm --> HH:MM:SS,mmm`, text lines joined with a
 * line break, and a leading `Name: ` read as the speaker — the shape GET …/export?format=srt
 * writes, so an export imports back unchanged.
 */
export function parseSrt(source: string): ImportedSegment[] {
  const blocks = source
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((block) => block.trim())
    .filter((block) => block !== '');
  return blocks.map((block, index) => {
    const lines = block.split('\n');
    const timingAt = lines.findIndex((line) => TIMING.test(line));
    if (timingAt < 0 || timingAt > 1) {
      throw new TranscriptImportError(
        `cue ${index + 1}: no "00:00:01,000 --> 00:00:02,000" timing line`,
      );
    }
    const [, h1, m1, s1, ms1, h2, m2, s2, ms2] = TIMING.exec(lines[timingAt]!)!;
    const text = lines
      .slice(timingAt + 1)
      .join('\n')
      .trim();
    if (text === '') throw new TranscriptImportError(`cue ${index + 1}: no text`);
    const speaker = SPEAKER.exec(text);
    return {
      start: seconds(h1!, m1!, s1!, ms1!),
      end: seconds(h2!, m2!, s2!, ms2!),
      ...(speaker ? { speaker: speaker[1]!.trim(), text: speaker[2]!.trim() } : { text }),
    };
  });
}

/**
 * A JSON transcript: the body POST /audio/:id/transcriptions takes (`{ segments, ... }`),
 * a bare array of segments, or what GET …/export?format=json writes.
 */
export function parseJsonTranscript(source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new TranscriptImportError(`not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(parsed)) return { segments: parsed };
  if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
  throw new TranscriptImportError(
    'a JSON transcript is an object with segments or an array of segments',
  );
}
