import { detectAudioType, durationOf, isTruncated, SNIFF_BYTES } from './audio-type';

function box(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

function wav(dataBytes: number, present = dataBytes): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([header, Buffer.alloc(present, 1)]);
}

function flac(): Buffer {
  const info = Buffer.alloc(42);
  info.write('fLaC', 0, 'latin1');
  info[4] = 0x80;
  info.writeUIntBE(34, 5, 3);
  info.writeUInt16BE(4096, 8);
  info.writeUInt16BE(4096, 10);
  info[18] = (8000 >> 12) & 0xff;
  info[19] = (8000 >> 4) & 0xff;
  info[20] = (8000 & 0x0f) << 4;
  info[21] = 15 << 4;
  info.writeUInt32BE(16000, 22);
  return Buffer.concat([info, Buffer.alloc(64, 1)]);
}

const FRAME = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(413, 7)]);
const ID3 = Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1');
const FTYP = Buffer.concat([
  Buffer.from([0, 0, 0, 0x1c]),
  Buffer.from('ftypM4A \x00\x00\x02\x00M4A isomiso2', 'latin1'),
]);
const soundMoov = box(
  'moov',
  box(
    'trak',
    box(
      'mdia',
      box('hdlr', Buffer.concat([Buffer.alloc(8), Buffer.from('soun'), Buffer.alloc(13)])),
    ),
  ),
);
const oggPage = (payload: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from('OggS\x00\x02', 'latin1'),
    Buffer.alloc(20, 0),
    Buffer.from([1, payload.length]),
    payload,
  ]);
const opusHead = Buffer.concat([Buffer.from('OpusHead\x01\x01', 'latin1'), Buffer.alloc(9)]);

describe('detectAudioType', () => {
  it.each([
    ['WAV', wav(16000), 'audio/wav'],
    ['FLAC', flac(), 'audio/flac'],
    ['MP3 after an ID3 tag', Buffer.concat([ID3, FRAME, FRAME]), 'audio/mpeg'],
    ['bare MP3', Buffer.concat([FRAME, FRAME]), 'audio/mpeg'],
    ['Ogg Opus', oggPage(opusHead), 'audio/ogg'],
    [
      'M4A with a sound track',
      Buffer.concat([FTYP, soundMoov, box('mdat', Buffer.alloc(64))]),
      'audio/mp4',
    ],
  ])('recognises a real %s', (_, bytes, mimeType) => {
    expect(detectAudioType(bytes)?.mimeType).toBe(mimeType);
  });

  it('trusts an MP4 whose moov lies beyond the head when its boxes are well formed', () => {
    const mdat = Buffer.alloc(8);
    mdat.writeUInt32BE(10 * SNIFF_BYTES, 0);
    mdat.write('mdat', 4, 'latin1');
    const head = Buffer.concat([FTYP, mdat, Buffer.alloc(SNIFF_BYTES - FTYP.length - 8)]);
    expect(detectAudioType(head)?.mimeType).toBe('audio/mp4');
  });

  it.each([
    ['fLaC followed by HTML', Buffer.from('fLaC<html><body>not audio</body></html>'.padEnd(200))],
    ['a 12-byte RIFF…WAVE', Buffer.from('RIFF\x04\x00\x00\x00WAVE', 'latin1')],
    [
      'a WAV header without fmt',
      Buffer.concat([
        Buffer.from('RIFF\x20\x00\x00\x00WAVEdata\x10\x00\x00\x00', 'latin1'),
        Buffer.alloc(16),
      ]),
    ],
    ['a WAV with an empty data chunk', wav(0, 0)],
    ['a bare ID3 header', ID3],
    [
      'an ID3 tag followed by text',
      Buffer.concat([ID3, Buffer.from('hello world, no frames here')]),
    ],
    [
      'an MP4 with a zero-size box',
      Buffer.concat([FTYP, Buffer.from('\x00\x00\x00\x00moov', 'latin1'), Buffer.alloc(64)]),
    ],
    ['an MP4 that is only ftyp', FTYP],
    [
      'an MP4 whose ftyp is zero-sized',
      Buffer.concat([Buffer.alloc(4), FTYP.subarray(4), Buffer.alloc(64)]),
    ],
    [
      'an MP4 whose moov has no sound track',
      Buffer.concat([
        FTYP,
        box(
          'moov',
          box(
            'trak',
            box('hdlr', Buffer.concat([Buffer.alloc(8), Buffer.from('vide'), Buffer.alloc(13)])),
          ),
        ),
      ]),
    ],
    [
      'an OggS page without segments',
      Buffer.concat([Buffer.from('OggS\x00\x02', 'latin1'), Buffer.alloc(30)]),
    ],
    ['an Ogg page holding text', oggPage(Buffer.from('just some text, not a codec'))],
  ])('F10: refuses %s', (_, bytes) => {
    expect(detectAudioType(bytes)).toBeNull();
  });

  it('F10: finds a WAV truncated when its data chunk promises more than the file holds', () => {
    const cut = wav(16000, 100);
    const type = detectAudioType(cut)!;
    expect(type.mimeType).toBe('audio/wav');
    expect(isTruncated(type, cut, cut.length)).toBe(true);
    const whole = wav(16000);
    expect(isTruncated(type, whole, whole.length)).toBe(false);
    expect(durationOf(type, whole, whole.length)).toBe(1);
  });
});
