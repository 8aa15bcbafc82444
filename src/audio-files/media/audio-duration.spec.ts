import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { audioDuration, needsTail, TailKeeper } from './audio-duration';
import { detectAudioType } from './audio-type';

/** Real files made by ffmpeg (a 440 Hz tone), a few KB each: test/fixtures/audio. */
const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'audio');

// ffprobe's durations; AAC adds its encoder delay (2.5 s + 1024 samples at 16 kHz).
const CASES: [string, string, number][] = [
  ['tone-cbr.mp3', 'audio/mpeg', 2.592],
  ['tone-vbr.mp3', 'audio/mpeg', 2.592],
  ['tone-faststart.m4a', 'audio/mp4', 2.564],
  ['tone-moov-last.m4a', 'audio/mp4', 2.564],
  ['tone.opus', 'audio/ogg', 2.5],
  ['tone-vorbis.ogg', 'audio/ogg', 2.5],
  ['tone.webm', 'audio/webm', 2.508],
  ['tone.flac', 'audio/flac', 1.5],
];

describe('audioDuration (music-metadata over head and tail bytes)', () => {
  it.each(CASES)('reads %s from the whole file', async (name, mimeType, seconds) => {
    const file = readFileSync(join(FIXTURES, name));
    const type = detectAudioType(file)!;
    expect(type.mimeType).toBe(mimeType);
    expect(await audioDuration(type, file, Buffer.alloc(0), file.length)).toBeCloseTo(seconds, 2);
  });

  // As for a large upload: the parser only ever sees the first bytes and, for Ogg and
  // MP4, the last ones; never the middle.
  it.each(CASES)('reads %s from 1.5 KB of head and tail', async (name, _mime, seconds) => {
    const file = readFileSync(join(FIXTURES, name));
    const type = detectAudioType(file)!;
    const head = file.subarray(0, 1500);
    const tail = needsTail(type) ? file.subarray(file.length - 1500) : Buffer.alloc(0);
    const duration = await audioDuration(type, head, tail, file.length);
    expect(duration).toBeCloseTo(seconds, 2);
  });

  it('is null, not a guess, when an MP4 moov is neither in the head nor in the tail', async () => {
    const file = readFileSync(join(FIXTURES, 'tone-moov-last.m4a'));
    const type = detectAudioType(file)!;
    const tail = file.subarray(file.length - 100);
    expect(await audioDuration(type, file.subarray(0, 1500), tail, file.length)).toBeNull();
  });

  it('is null, not an error, for bytes the parser cannot read', async () => {
    const file = readFileSync(join(FIXTURES, 'tone.opus'));
    const type = detectAudioType(file)!;
    const garbage = Buffer.alloc(2000, 0x41);
    expect(await audioDuration(type, file.subarray(0, 1500), garbage, 1_000_000)).toBeNull();
  });

  it('keeps only the last bytes of a stream and passes every byte on', async () => {
    const keeper = new TailKeeper(10);
    const seen: Buffer[] = [];
    const chunks = ['abcdefgh', 'ijklmnop', 'qrstuvwxyz'].map((c) => Buffer.from(c));
    await pipeline(Readable.from(chunks), keeper, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) seen.push(chunk);
    });
    expect(Buffer.concat(seen).toString()).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(keeper.tail().toString()).toBe('qrstuvwxyz');
  });
});
