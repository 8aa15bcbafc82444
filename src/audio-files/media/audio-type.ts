/**
 * Recognises audio containers by their magic bytes (never by name or client-sent type)
 * and reads the duration where the header carries it. Plain CommonJS on purpose: the
 * popular `file-type` is ESM-only from v17 and cannot be loaded by this CommonJS build.
 */
export interface AudioType {
  mimeType: string;
  extension: string;
}

/** Bytes to read before deciding: enough for every signature and most WAV/FLAC headers. */
export const SNIFF_BYTES = 64 * 1024;

const ascii = (head: Buffer, offset: number, text: string): boolean =>
  head.length >= offset + text.length &&
  head.toString('latin1', offset, offset + text.length) === text;

/** An MPEG audio frame header (layers I-III): 11 sync bits and no reserved values. */
function isMpegFrame(head: Buffer, offset: number): boolean {
  if (head.length < offset + 4) return false;
  const b1 = head[offset + 1]!;
  const b2 = head[offset + 2]!;
  return (
    head[offset] === 0xff &&
    (b1 & 0xe0) === 0xe0 &&
    ((b1 >> 3) & 0x03) !== 0x01 && // version: reserved
    ((b1 >> 1) & 0x03) !== 0x00 && // layer: reserved (also rules out AAC ADTS)
    b2 >> 4 !== 0x0f && // bitrate: bad
    ((b2 >> 2) & 0x03) !== 0x03 // sample rate: reserved
  );
}

/** Size of a leading ID3v2 tag, 0 when there is none. */
function id3Length(head: Buffer): number {
  if (!ascii(head, 0, 'ID3') || head.length < 10) return 0;
  const size =
    ((head[6]! & 0x7f) << 21) |
    ((head[7]! & 0x7f) << 14) |
    ((head[8]! & 0x7f) << 7) |
    (head[9]! & 0x7f);
  const footer = head[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

const M4A_BRANDS = new Set(['M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ']);
const MP4_BRANDS = new Set([
  'isom',
  'iso2',
  'iso4',
  'iso5',
  'iso6',
  'mp41',
  'mp42',
  'dash',
  'avc1',
  'MSNV',
  '3gp4',
  '3gp5',
  '3gp6',
]);

/**
 * The audio type of a file from its first bytes, or null when it is not one we accept.
 * A signature alone is not enough (F10): the container must be parsed far enough to
 * show an audio stream — WAV a `fmt ` and a `data` chunk, FLAC its STREAMINFO, MP3 a
 * valid frame after any ID3 tag, Ogg a page carrying a codec header, MP4 well-formed
 * boxes and (when it is within the head) a `moov` with a sound track. `head` shorter
 * than SNIFF_BYTES is the whole file.
 */
export function detectAudioType(head: Buffer): AudioType | null {
  const whole = head.length < SNIFF_BYTES;
  if ((ascii(head, 0, 'RIFF') || ascii(head, 0, 'RF64')) && ascii(head, 8, 'WAVE')) {
    return wavHasAudio(head, whole) ? { mimeType: 'audio/wav', extension: '.wav' } : null;
  }
  if (ascii(head, 0, 'fLaC')) {
    return flacHasStreamInfo(head, 0) ? { mimeType: 'audio/flac', extension: '.flac' } : null;
  }
  if (ascii(head, 0, 'OggS')) return oggType(head);
  if (ascii(head, 4, 'ftyp')) {
    const brand = head.toString('latin1', 8, 12);
    const type = M4A_BRANDS.has(brand)
      ? { mimeType: 'audio/mp4', extension: '.m4a' }
      : MP4_BRANDS.has(brand)
        ? { mimeType: 'audio/mp4', extension: '.mp4' }
        : null;
    return type && mp4HasAudio(head, whole) ? type : null;
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) {
    // EBML: WebM declares its DocType in the header; plain Matroska is not accepted.
    const window = head.subarray(0, Math.min(head.length, 64));
    return window.includes('webm', 0, 'latin1')
      ? { mimeType: 'audio/webm', extension: '.webm' }
      : null;
  }
  const tag = id3Length(head);
  if (tag > 0) {
    if (ascii(head, tag, 'fLaC')) {
      return flacHasStreamInfo(head, tag) ? { mimeType: 'audio/flac', extension: '.flac' } : null;
    }
    // A tag longer than the head (cover art) hides the first frame: trusted only when the
    // file goes on beyond the head; a file that ends inside its own tag has no audio.
    if (tag >= head.length - 4) {
      return whole ? null : { mimeType: 'audio/mpeg', extension: '.mp3' };
    }
    return isMpegStream(head, tag) ? { mimeType: 'audio/mpeg', extension: '.mp3' } : null;
  }
  // A bare MPEG stream: demand two consecutive valid frame headers to avoid false positives.
  return isMpegStream(head, 0) ? { mimeType: 'audio/mpeg', extension: '.mp3' } : null;
}

/** A valid frame at `offset`, followed by another valid one (or by the end of the head). */
function isMpegStream(head: Buffer, offset: number): boolean {
  if (!isMpegFrame(head, offset)) return false;
  const length = mpegFrameLength(head, offset);
  if (length <= 0) return false;
  const next = offset + length;
  return head.length < next + 4 ? head.length >= next : isMpegFrame(head, next);
}

/**
 * WAV: chunks walk cleanly to a `fmt ` chunk with a sane PCM description and a `data`
 * chunk holding at least one sample frame, within the sniffed head.
 */
function wavHasAudio(head: Buffer, whole: boolean): boolean {
  let offset = 12;
  let blockAlign = 0;
  while (offset + 8 <= head.length) {
    const id = head.toString('latin1', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > head.length) return false;
      const channels = head.readUInt16LE(body + 2);
      const rate = head.readUInt32LE(body + 4);
      const byteRate = head.readUInt32LE(body + 8);
      blockAlign = head.readUInt16LE(body + 12);
      if (!channels || !rate || !byteRate || !blockAlign) return false;
    } else if (id === 'data') {
      if (!blockAlign) return false; // data before fmt, or no fmt at all
      const available = head.length - body;
      // A streamed WAV leaves the size at 0 or 0xFFFFFFFF; otherwise it must hold a frame.
      const declared = size === 0 || size === 0xffffffff ? available : size;
      return declared >= blockAlign && (available >= blockAlign || !whole);
    }
    offset = body + size + (size % 2);
  }
  return false;
}

/** WAV whose `data` chunk declares more bytes than the file holds (cut off in transfer). */
export function isTruncated(type: AudioType, head: Buffer, totalSize: number): boolean {
  if (type.extension !== '.wav' || !ascii(head, 0, 'RIFF')) return false;
  let offset = 12;
  while (offset + 8 <= head.length) {
    const id = head.toString('latin1', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'data') {
      return size !== 0 && size !== 0xffffffff && body + size > totalSize;
    }
    offset = body + size + (size % 2);
  }
  return false;
}

/** FLAC: after `fLaC`, the first metadata block is a 34-byte STREAMINFO with a sample rate. */
function flacHasStreamInfo(head: Buffer, start: number): boolean {
  const block = start + 4;
  if (head.length < block + 4 + 34) return false;
  if ((head[block]! & 0x7f) !== 0 || head.readUIntBE(block + 1, 3) !== 34) return false;
  const info = block + 4;
  const minBlock = head.readUInt16BE(info);
  const maxBlock = head.readUInt16BE(info + 2);
  const rate = (head[info + 10]! << 12) | (head[info + 11]! << 4) | (head[info + 12]! >> 4);
  return minBlock >= 16 && maxBlock >= minBlock && rate > 0 && rate <= 655_350;
}

/** Ogg: a first page (version 0, beginning of stream) whose payload is a codec header. */
function oggType(head: Buffer): AudioType | null {
  if (head.length < 27 || head[4] !== 0 || (head[5]! & 0x02) === 0) return null;
  const segments = head[26]!;
  const payload = 27 + segments;
  if (segments === 0 || head.length < payload) return null;
  let length = 0;
  for (let i = 0; i < segments; i++) length += head[27 + i]!;
  if (head.length < payload + Math.min(length, 19)) return null;
  if (length >= 19 && ascii(head, payload, 'OpusHead')) {
    return { mimeType: 'audio/ogg', extension: '.opus' };
  }
  if (
    (length >= 30 && ascii(head, payload, '\x01vorbis')) ||
    (length >= 13 && ascii(head, payload, '\x7fFLAC')) ||
    (length >= 80 && ascii(head, payload, 'Speex   '))
  ) {
    return { mimeType: 'audio/ogg', extension: '.ogg' };
  }
  return null; // Ogg video (Theora) and anything else
}

/**
 * MP4: top-level boxes with valid sizes (no zero-size or undersized box, none running
 * past the end of a file wholly in the head). A `moov` within the head must hold a
 * track whose handler is `soun`; without one in the head, the file must go on beyond
 * it (a `moov` after a large `mdat`).
 */
function mp4HasAudio(head: Buffer, whole: boolean): boolean {
  let offset = 0;
  let first = true;
  while (offset + 8 <= head.length) {
    let size = head.readUInt32BE(offset);
    const type = head.toString('latin1', offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > head.length) return !whole;
      const large = head.readBigUInt64BE(offset + 8);
      if (large > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      size = Number(large);
      header = 16;
    }
    if (size < header || !/^[\x20-\x7e]{4}$/.test(type)) return false;
    if (first && (type !== 'ftyp' || size < 16)) return false;
    first = false;
    if (type === 'moov') {
      if (offset + size > head.length) return !whole;
      return hasSoundTrack(head.subarray(offset + header, offset + size));
    }
    offset += size;
  }
  return offset > head.length && !whole;
}

/** Somewhere in `moov`: a `hdlr` box whose handler type is `soun`. */
function hasSoundTrack(moov: Buffer): boolean {
  let at = moov.indexOf('hdlr', 0, 'latin1');
  while (at >= 0) {
    if (ascii(moov, at + 12, 'soun')) return true;
    at = moov.indexOf('hdlr', at + 4, 'latin1');
  }
  return false;
}

const MPEG_BITRATES: Record<string, number[]> = {
  // kbit/s by index, for [version 1 | version 2/2.5] x layer
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MPEG_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000], // MPEG 1
  2: [22050, 24000, 16000], // MPEG 2
  0: [11025, 12000, 8000], // MPEG 2.5
};

/** Length in bytes of the MPEG frame at `offset`, 0 when it cannot be computed. */
function mpegFrameLength(head: Buffer, offset: number): number {
  const b1 = head[offset + 1]!;
  const b2 = head[offset + 2]!;
  const version = (b1 >> 3) & 0x03;
  const layer = 4 - ((b1 >> 1) & 0x03);
  const bitrate = MPEG_BITRATES[`${version === 3 ? 1 : 2}-${layer}`]?.[b2 >> 4] ?? 0;
  const rate = MPEG_RATES[version]?.[(b2 >> 2) & 0x03] ?? 0;
  const padding = (b2 >> 1) & 0x01;
  if (!bitrate || !rate) return 0;
  if (layer === 1) return (Math.floor((12 * bitrate * 1000) / rate) + padding) * 4;
  const samples = layer === 3 && version !== 3 ? 72 : 144;
  return Math.floor((samples * bitrate * 1000) / rate) + padding;
}

/**
 * Duration in seconds where the header carries it, given the whole file's size: WAV
 * (data size / byte rate) and FLAC (STREAMINFO total samples / sample rate). Null for
 * formats whose duration needs the whole stream, or when the header is not in `head`.
 */
export function durationOf(type: AudioType, head: Buffer, totalSize: number): number | null {
  if (type.extension === '.wav') return wavDuration(head, totalSize);
  if (type.extension === '.flac') return flacDuration(head);
  return null;
}

function wavDuration(head: Buffer, totalSize: number): number | null {
  let offset = 12;
  let byteRate = 0;
  while (offset + 8 <= head.length) {
    const id = head.toString('latin1', offset, offset + 4);
    const size = head.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 12 <= head.length) {
      byteRate = head.readUInt32LE(body + 8);
    } else if (id === 'data') {
      if (!byteRate) return null;
      // Streamed WAVs leave the size at 0 or 0xFFFFFFFF: then the data runs to the end.
      const available = Math.max(0, totalSize - body);
      const dataSize = size === 0 || size === 0xffffffff ? available : Math.min(size, available);
      return Math.round((dataSize / byteRate) * 1000) / 1000;
    }
    offset = body + size + (size % 2);
  }
  return null;
}

function flacDuration(head: Buffer): number | null {
  const start = id3Length(head) + 4; // after "fLaC"
  if (head.length < start + 4 + 18) return null;
  if ((head[start]! & 0x7f) !== 0) return null; // the first block must be STREAMINFO
  const info = start + 4;
  const rate = (head[info + 10]! << 12) | (head[info + 11]! << 4) | (head[info + 12]! >> 4);
  const samples = (head[info + 13]! & 0x0f) * 2 ** 32 + head.readUInt32BE(info + 14);
  if (!rate || !samples) return null;
  return Math.round((samples / rate) * 1000) / 1000;
}
