import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  ArchiveDamagedError,
  ArchiveWriter,
  digestOf,
  parseManifest,
  readArchive,
  verified,
} from './archive';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `buffer` as a stream of `size`-byte chunks. */
function chunksOf(buffer: Buffer, size = 1000): AsyncIterable<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) chunks.push(buffer.subarray(i, i + size));
  return Readable.from(chunks);
}

describe('backup archive', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'verbatim-archive-spec-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function write(file: string, entries: [string, Buffer][], gzip = false): Promise<string[]> {
    const writer = new ArchiveWriter();
    const out = createWriteStream(file);
    const done = gzip ? pipeline(writer.pack, createGzip(), out) : pipeline(writer.pack, out);
    const hashes: string[] = [];
    for (const [name, body] of entries)
      hashes.push(await writer.add(name, body.length, chunksOf(body)));
    writer.finalize();
    await done;
    return hashes;
  }

  it.each([false, true])('round-trips entries, streamed (gzip: %s)', async (gzip) => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const entries: [string, Buffer][] = [
      ['database.dump', Buffer.from('dump')],
      ['objects/cases/a/b.wav', big],
      ['empty', Buffer.alloc(0)],
    ];
    const file = join(dir, `round.tar${gzip ? '.gz' : ''}`);
    const hashes = await write(file, entries, gzip);
    expect(hashes).toEqual(entries.map(([, b]) => sha(b)));
    let read = 0;
    const seen: [string, number, string][] = [];
    for await (const entry of readArchive(file, (n) => (read += n))) {
      const digest = await digestOf(entry.body);
      seen.push([entry.name, digest.size, digest.sha256]);
    }
    expect(seen).toEqual(entries.map(([n, b]) => [n, b.length, sha(b)]));
    expect(read).toBe((await stat(file)).size);
  });

  it('refuses a source that yields more or fewer bytes than announced', async () => {
    const writer = new ArchiveWriter();
    const done = pipeline(writer.pack, createWriteStream(join(dir, 'bad.tar')));
    await expect(writer.add('x', 10, chunksOf(Buffer.alloc(11)))).rejects.toThrow(/grew/);
    writer.abort(new Error('stop'));
    await expect(done).rejects.toThrow('stop');
    const second = new ArchiveWriter();
    const done2 = pipeline(second.pack, createWriteStream(join(dir, 'bad2.tar')));
    await expect(second.add('x', 10, chunksOf(Buffer.alloc(9)))).rejects.toThrow(/changed/);
    second.abort(new Error('stop'));
    await expect(done2).rejects.toThrow('stop');
  });

  it('reports a truncated or foreign file as a damaged archive', async () => {
    const file = join(dir, 'whole.tar');
    await write(file, [['a', Buffer.alloc(5000, 1)]]);
    const truncated = join(dir, 'truncated.tar');
    const { readFile } = await import('node:fs/promises');
    await writeFile(truncated, (await readFile(file)).subarray(0, 2000));
    const drain = async (path: string): Promise<void> => {
      for await (const entry of readArchive(path)) await digestOf(entry.body);
    };
    await expect(drain(truncated)).rejects.toThrow(ArchiveDamagedError);
    const junk = join(dir, 'junk.tar');
    await writeFile(junk, 'this is not a tar archive at all');
    await expect(drain(junk)).rejects.toThrow(ArchiveDamagedError);
  });

  it('verified() passes matching bytes and fails at the end otherwise', async () => {
    const body = Buffer.from('hello world');
    const collect = async (it: AsyncIterable<Buffer>): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const c of it) parts.push(c);
      return Buffer.concat(parts);
    };
    const ok = { name: 'x', size: body.length, sha256: sha(body) };
    expect(await collect(verified(chunksOf(body, 3), ok))).toEqual(body);
    await expect(collect(verified(chunksOf(Buffer.from('hello w0rld'), 3), ok))).rejects.toThrow(
      ArchiveDamagedError,
    );
    await expect(collect(verified(chunksOf(body, 3), { ...ok, size: 5 }))).rejects.toThrow(
      ArchiveDamagedError,
    );
  });

  it('parseManifest accepts a well-formed manifest and rejects bad keys or hashes', () => {
    const manifest = {
      format: 'verbatim-backup',
      formatVersion: 1,
      createdAt: new Date().toISOString(),
      appVersion: '0.1.0',
      migrations: ['Foundation1'],
      database: {
        entry: 'database.dump',
        format: 'pg_dump custom',
        serverVersion: '15',
        size: 1,
        sha256: 'a'.repeat(64),
      },
      storage: { driver: 'local', totalBytes: 1 },
      objectCount: 1,
      objects: [
        {
          key: 'cases/11111111-1111-1111-1111-111111111111/22222222-2222-2222-2222-222222222222.wav',
          size: 1,
          sha256: 'b'.repeat(64),
        },
      ],
    };
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
    const bad = (change: (m: typeof manifest) => void): string => {
      const copy = structuredClone(manifest);
      change(copy);
      return JSON.stringify(copy);
    };
    for (const text of [
      '{',
      bad((m) => (m.format = 'other')),
      bad((m) => (m.formatVersion = 2)),
      bad((m) => (m.objects[0]!.key = '../../etc/passwd')),
      bad((m) => (m.objects[0]!.sha256 = 'x')),
      bad((m) => (m.objectCount = 2)),
      bad((m) => m.objects.push({ ...m.objects[0]! })),
    ]) {
      expect(() => parseManifest(text)).toThrow(ArchiveDamagedError);
    }
  });
});
