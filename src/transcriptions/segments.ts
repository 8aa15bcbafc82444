import type { ProblemFieldError } from '../core/http/problem.exception';
import type { TranscriptSegment } from './entities/transcription.entity';

/**
 * Slack allowed past the audio's duration: durations parsed from headers and engines'
 * frame-rounded timestamps disagree by a few milliseconds.
 */
export const DURATION_TOLERANCE_SECONDS = 0.05;

/** At most this many segment errors are reported; one is enough to refuse the request. */
const MAX_REPORTED = 20;

/**
 * The rules a class-validator decorator cannot state: every segment ends after it starts,
 * segments are ordered by start, and none ends past the audio's duration (when known).
 * Field paths match the validation pipe's (`segments[3].end`).
 */
export function segmentProblems(
  segments: readonly Pick<TranscriptSegment, 'start' | 'end'>[],
  durationSeconds: number | null,
): ProblemFieldError[] {
  const problems: ProblemFieldError[] = [];
  segments.forEach((segment, i) => {
    const field = `segments[${i}]`;
    if (segment.end <= segment.start) {
      problems.push({
        field: `${field}.end`,
        message: `${field}.end (${segment.end}) must be greater than ${field}.start (${segment.start})`,
      });
    }
    const previous = segments[i - 1];
    if (previous && segment.start < previous.start) {
      problems.push({
        field: `${field}.start`,
        message: `segments must be ordered by start: ${field}.start (${segment.start}) is before segments[${i - 1}].start (${previous.start})`,
      });
    }
    if (durationSeconds !== null && segment.end > durationSeconds + DURATION_TOLERANCE_SECONDS) {
      problems.push({
        field: `${field}.end`,
        message: `${field}.end (${segment.end}) is past the end of the audio (${durationSeconds} s)`,
      });
    }
  });
  return problems.slice(0, MAX_REPORTED);
}

/** The full text when the engine sent only segments: one line per segment. */
export function contentOf(segments: readonly Pick<TranscriptSegment, 'text'>[]): string {
  return segments
    .map((s) => s.text.trim())
    .filter((text) => text !== '')
    .join('\n');
}

/** Duration-weighted mean of the segments' confidences; null when none has one. */
export function overallConfidence(
  segments: readonly Pick<TranscriptSegment, 'start' | 'end' | 'confidence'>[],
): number | null {
  let weighted = 0;
  let seconds = 0;
  for (const s of segments) {
    if (s.confidence === null) continue;
    const length = Math.max(s.end - s.start, 0);
    weighted += s.confidence * length;
    seconds += length;
  }
  if (seconds === 0) return null;
  return Math.round((weighted / seconds) * 10_000) / 10_000;
}

/** Every speaker label the segments use. */
export function speakersOf(segments: readonly Pick<TranscriptSegment, 'speaker'>[]): Set<string> {
  return new Set(segments.flatMap((s) => (s.speaker === null ? [] : [s.speaker])));
}

/** The segments with speakers renamed by `names` (label → new name); the rest unchanged. */
export function renameSpeakers(
  segments: readonly TranscriptSegment[],
  names: ReadonlyMap<string, string>,
): TranscriptSegment[] {
  return segments.map((s) =>
    s.speaker !== null && names.has(s.speaker) ? { ...s, speaker: names.get(s.speaker)! } : s,
  );
}
