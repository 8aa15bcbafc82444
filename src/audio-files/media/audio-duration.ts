import { parseBuffer } from 'music-metadata';
import { Transform, TransformCallback } from 'node:stream';
import { AudioType, durationOf } from './audio-type';

/**
 * Bytes kept from the end of an upload for formats whose duration is written last: an
 * Ogg stream's final page (granule position) and an MP4 `moov` box written after its
 * `mdat` (the usual layout without "faststart"; 1 MiB holds the sample tables of several
 * hours of AAC). Other formats keep nothing.
 */
export const TAIL_BYTES = 1024 * 1024;

export function needsTail(type: AudioType): boolean {
  return type.mimeType === 'audio/ogg' || type.mimeType === 'audio/mp4';
}

/** Passes bytes through unchanged, remembering only the last `limit` of them. */
export class TailKeeper extends Transform {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.chunks.length > 1 && this.length - this.chunks[0]!.length >= this.limit) {
      this.length -= this.chunks.shift()!.length;
    }
    done(null, chunk);
  }

  tail(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit));
  }
}

/**
 * Duration in seconds from the first bytes of a file (`head`) and, for Ogg and MP4, its
 * last bytes (`tail`), parsed by `music-metadata` — never the whole file. WAV and FLAC
 * keep the exact header arithmetic of `durationOf` first. Null when the bytes at hand do
 * not tell (a WebM recorded live without a Duration, an MP4 whose `moov` is not within
 * the head or the tail) or the parser refuses them; a duration never fails an upload.
 */
export async function audioDuration(
  type: AudioType,
  head: Buffer,
  tail: Buffer,
  totalSize: number,
): Promise<number | null> {
  const exact = durationOf(type, head, totalSize);
  if (exact !== null) return exact;
  try {
    const bytes = bytesToParse(type, head, tail, totalSize);
    if (!bytes) return null;
    const metadata = await parseBuffer(
      bytes.buffer,
      { mimeType: type.mimeType, size: bytes.size },
      { duration: false, skipCovers: true, skipPostHeaders: true },
    );
    const seconds = metadata.format.duration;
    return seconds !== undefined && Number.isFinite(seconds) && seconds > 0
      ? Math.round(seconds * 1000) / 1000
      : null;
  } catch {
    return null;
  }
}

/** What the parser reads: the head, or the head and tail joined where the format allows. */
function bytesToParse(
  type: AudioType,
  head: Buffer,
  tail: Buffer,
  totalSize: number,
): { buffer: Buffer; size: number } | null {
  if (totalSize <= head.length) return { buffer: head, size: head.length };
  switch (type.mimeType) {
    case 'audio/webm': {
      // Stop before the first Cluster: Segment Info (with Duration) and Tracks come first.
      const cluster = head.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
      return cluster > 0 ? { buffer: head.subarray(0, cluster), size: cluster } : null;
    }
    case 'audio/ogg':
      return oggHeadAndTail(head, tail);
    case 'audio/mp4':
      return mp4WithMoov(head, tail, totalSize);
    default:
      // MP3: a Xing/Info/VBRI header in the first frame, or constant bit rate and the size.
      return { buffer: head, size: totalSize };
  }
}

const OGG_CAPTURE = Buffer.from('OggS', 'latin1');

/** Length of the Ogg page at `offset`, or 0 when there is no whole page there. */
function oggPageLength(bytes: Buffer, offset: number): number {
  if (offset + 27 > bytes.length || !bytes.subarray(offset, offset + 4).equals(OGG_CAPTURE)) {
    return 0;
  }
  if (bytes[offset + 4] !== 0) return 0;
  const segments = bytes[offset + 26]!;
  if (offset + 27 + segments > bytes.length) return 0;
  let length = 27 + segments;
  for (let i = 0; i < segments; i++) length += bytes[offset + 27 + i]!;
  return offset + length <= bytes.length ? length : 0;
}

/**
 * The head's whole pages (codec headers) followed by the tail's pages, from the first
 * capture pattern whose pages run exactly to the end: the parser takes the sample count
 * from the last page's granule position.
 */
function oggHeadAndTail(head: Buffer, tail: Buffer): { buffer: Buffer; size: number } | null {
  let headEnd = 0;
  for (let length = oggPageLength(head, 0); length > 0; length = oggPageLength(head, headEnd)) {
    headEnd += length;
  }
  for (
    let start = tail.indexOf(OGG_CAPTURE);
    start >= 0;
    start = tail.indexOf(OGG_CAPTURE, start + 1)
  ) {
    let at = start;
    for (let length = oggPageLength(tail, at); length > 0; length = oggPageLength(tail, at)) {
      at += length;
    }
    if (at === tail.length && at > start) {
      const buffer = Buffer.concat([head.subarray(0, headEnd), tail.subarray(start)]);
      return { buffer, size: buffer.length };
    }
  }
  return null;
}

/**
 * MP4: the top-level boxes are walked by their sizes (reading box headers only from the
 * head or the tail) to the `moov`; the parser gets everything before the first `mdat`
 * and the `moov` itself, which holds the durations.
 */
function mp4WithMoov(
  head: Buffer,
  tail: Buffer,
  totalSize: number,
): { buffer: Buffer; size: number } | null {
  const tailStart = totalSize - tail.length;
  const slice = (from: number, to: number): Buffer | null => {
    if (to <= head.length) return head.subarray(from, to);
    if (from >= tailStart) return tail.subarray(from - tailStart, to - tailStart);
    return null;
  };
  let offset = 0;
  let beforeMdat = -1;
  while (offset + 8 <= totalSize) {
    const header = slice(offset, offset + 16 <= totalSize ? offset + 16 : offset + 8);
    if (!header) return null;
    let size = header.readUInt32BE(0);
    const kind = header.toString('latin1', 4, 8);
    if (size === 1 && header.length >= 16) size = Number(header.readBigUInt64BE(8));
    else if (size === 0) size = totalSize - offset;
    if (size < 8) return null;
    if (kind === 'mdat' && beforeMdat < 0) beforeMdat = offset;
    if (kind === 'moov') {
      const moov = slice(offset, offset + size);
      if (!moov) return null;
      const buffer = Buffer.concat([head.subarray(0, beforeMdat < 0 ? offset : beforeMdat), moov]);
      return { buffer, size: buffer.length };
    }
    offset += size;
  }
  return null;
}
