import type { TranscriptSegment } from './entities/transcription.entity';

export const EXPORT_FORMATS = ['txt', 'srt', 'vtt', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  txt: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/**
 * `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT). Rounded to the millisecond once, so
 * 62.345 s is 00:01:02,345 and never 00:01:02,344 from floating-point noise; hours grow
 * past two digits if they must.
 */
export function formatTimestamp(seconds: number, separator: ',' | '.'): string {
  const total = Math.max(0, Math.round(seconds * 1000));
  const ms = total % 1000;
  const s = Math.floor(total / 1000) % 60;
  const m = Math.floor(total / 60_000) % 60;
  const h = Math.floor(total / 3_600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}${separator}${String(ms).padStart(3, '0')}`;
}

/**
 * Cue text for subtitle formats: line breaks normalised, no empty line (an empty line
 * ends a cue) and no leading or trailing blanks.
 */
function cueLines(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n');
}

/** Cues worth writing: a cue with no text would end before it began. */
function cues(segments: readonly TranscriptSegment[]): (TranscriptSegment & { lines: string })[] {
  return segments.map((s) => ({ ...s, lines: cueLines(s.text) })).filter((s) => s.lines !== '');
}

/**
 * SubRip: numbered cues, `00:01:02,345 --> 00:01:04,000`, the speaker as a `Name: `
 * prefix. SubRip has no escape syntax; the one sequence a player could misread in text,
 * `-->`, is written `->`.
 */
export function toSrt(segments: readonly TranscriptSegment[]): string {
  return cues(segments)
    .map((cue, i) => {
      const text = cue.lines.replace(/-->/g, '->');
      const label = cue.speaker !== null ? `${cue.speaker.replace(/-->/g, '->')}: ` : '';
      return `${i + 1}\n${formatTimestamp(cue.start, ',')} --> ${formatTimestamp(cue.end, ',')}\n${label}${text}\n`;
    })
    .join('\n');
}

/** WebVTT cue text and annotation escaping: `&`, `<` and `>` as character references. */
export function escapeVtt(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * WebVTT: the `WEBVTT` header, numbered cues with `.` before the milliseconds, the
 * speaker as a voice span `<v Name>…</v>`, text escaped (which also rules out `-->`).
 */
export function toVtt(segments: readonly TranscriptSegment[]): string {
  const body = cues(segments)
    .map((cue, i) => {
      const text = escapeVtt(cue.lines);
      const voiced = cue.speaker !== null ? `<v ${escapeVtt(cue.speaker)}>${text}</v>` : text;
      return `${i + 1}\n${formatTimestamp(cue.start, '.')} --> ${formatTimestamp(cue.end, '.')}\n${voiced}\n`;
    })
    .join('\n');
  return body === '' ? 'WEBVTT\n' : `WEBVTT\n\n${body}`;
}

/**
 * Plain text: one line per segment, `[HH:MM:SS.mmm] Speaker: text`; the full content
 * when there are no segments.
 */
export function toText(content: string, segments: readonly TranscriptSegment[]): string {
  if (segments.length === 0)
    return content.endsWith('\n') || content === '' ? content : `${content}\n`;
  return cues(segments)
    .map((cue) => {
      const label = cue.speaker !== null ? `${cue.speaker}: ` : '';
      return `[${formatTimestamp(cue.start, '.')}] ${label}${cue.lines.replace(/\n/g, ' ')}\n`;
    })
    .join('');
}
