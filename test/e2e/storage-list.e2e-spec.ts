import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalStorageDriver } from '../../src/core/storage/local-storage.driver';
import { S3StorageDriver } from '../../src/core/storage/s3-storage.driver';
import {
  InvalidStorageKeyError,
  ListedObject,
  StorageDriver,
} from '../../src/core/storage/storage-driver';
import { archiveAudioKey, caseAudioKey } from '../../src/core/storage/storage-keys';
import { driverSettings, TestS3 } from '../support/s3';
import { startS3Process } from '../support/s3-process';

type Listed = Omit<ListedObject, 'modifiedAt'>;

/** Key and size of every listed object (modifiedAt is checked on its own). */
async function listAll(storage: StorageDriver, prefix: string): Promise<Listed[]> {
  const out: Listed[] = [];
  for await (const { key, size, modifiedAt } of storage.list(prefix)) {
    expect(Number.isFinite(modifiedAt.getTime())).toBe(true);
    out.push({ key, size });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Puts objects of known sizes under both key shapes; returns them sorted by key. */
async function populate(storage: StorageDriver): Promise<{ caseId: string; all: Listed[] }> {
  const caseId = randomUUID();
  const otherCase = randomUUID();
  const keys = [
    caseAudioKey(caseId, randomUUID(), '.wav'),
    caseAudioKey(caseId, randomUUID(), '.mp3'),
    caseAudioKey(caseId, randomUUID(), ''),
    caseAudioKey(otherCase, randomUUID(), '.flac'),
    archiveAudioKey(randomUUID(), '.wav'),
  ];
  const all: Listed[] = [];
  for (const [i, key] of keys.entries()) {
    const body = Buffer.alloc(100 + i * 7, i);
    await storage.put(key, Readable.from([body]));
    all.push({ key, size: body.length });
  }
  return { caseId, all: all.sort((a, b) => a.key.localeCompare(b.key)) };
}

function behavesLikeAStore(name: string, make: () => Promise<StorageDriver>): void {
  describe(`${name}: list(prefix)`, () => {
    let storage: StorageDriver;
    let data: { caseId: string; all: Listed[] };

    beforeAll(async () => {
      storage = await make();
      data = await populate(storage);
    });

    it('yields every object with its size for the empty prefix', async () => {
      expect(await listAll(storage, '')).toEqual(data.all);
    });

    it('yields only the keys under a prefix, at any depth of it', async () => {
      const cases = data.all.filter((o) => o.key.startsWith('cases/'));
      expect(await listAll(storage, 'cases/')).toEqual(cases);
      expect(await listAll(storage, 'cases')).toEqual(cases);
      const ofCase = data.all.filter((o) => o.key.startsWith(`cases/${data.caseId}/`));
      expect(ofCase).toHaveLength(3);
      expect(await listAll(storage, `cases/${data.caseId}/`)).toEqual(ofCase);
      const one = ofCase[0]!;
      expect(await listAll(storage, one.key.slice(0, -2))).toEqual([one]);
      expect(await listAll(storage, 'archive/')).toEqual(
        data.all.filter((o) => o.key.startsWith('archive/')),
      );
      expect(await listAll(storage, `cases/${randomUUID()}/`)).toEqual([]);
    });

    it('refuses prefixes that could leave the store', async () => {
      for (const prefix of ['../', 'cases/../..', '/etc', 'CASES/', 'cases/x/../../..']) {
        await expect(storage.list(prefix)[Symbol.asyncIterator]().next()).rejects.toThrow(
          InvalidStorageKeyError,
        );
      }
    });

    it('no longer lists a deleted object', async () => {
      const [gone] = data.all.splice(0, 1);
      await storage.delete(gone!.key);
      expect(await listAll(storage, '')).toEqual(data.all);
    });
  });
}

describe('StorageDriver.list', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup) await step();
  });

  behavesLikeAStore('local', async () => {
    const root = await mkdtemp(join(tmpdir(), 'verbatim-list-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    // Not objects of this service: a write in progress and a stray file.
    const stray = join(root, 'cases', randomUUID());
    await mkdir(stray, { recursive: true });
    await writeFile(join(stray, `${randomUUID()}.wav.partial-0a1b2c3d4e5f`), 'partial');
    await writeFile(join(root, 'README'), 'not an object');
    return new LocalStorageDriver(root);
  });

  it('local: lists nothing (and does not fail) when the root does not exist yet', async () => {
    const storage = new LocalStorageDriver(join(tmpdir(), `verbatim-missing-${randomUUID()}`));
    expect(await listAll(storage, '')).toEqual([]);
  });

  let s3: TestS3;
  behavesLikeAStore('s3', async () => {
    s3 = await startS3Process();
    const driver = new S3StorageDriver(driverSettings(s3));
    // Two keys a page: the listing must follow continuation tokens.
    driver.listPageSize = 2;
    cleanup.push(async () => {
      driver.destroy();
      await s3.stop();
    });
    return driver;
  });
});
