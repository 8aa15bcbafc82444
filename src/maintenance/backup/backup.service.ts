import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DataSource } from 'typeorm';
import { Clock } from '../../core/clock/clock';
import { AppConfig } from '../../core/config/app-config';
import {
  ListedObject,
  StorageDriver,
  StorageNotFoundError,
} from '../../core/storage/storage-driver';
import { InjectStorage } from '../../core/storage/storage.module';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_FORMAT_VERSION,
  ArchiveWriter,
  BackupManifest,
  DUMP_ENTRY,
  MANIFEST_ENTRY,
  ManifestObject,
  OBJECTS_DIR,
} from './archive';
import { postgresEnvironment, runPostgresTool } from './postgres-tools';
import { Progress, SILENT_PROGRESS } from './progress';

export interface BackupOptions {
  progress?: Progress;
  /** One line per step, for the operator. */
  log?: (line: string) => void;
}

export interface BackupReport {
  file: string;
  archiveBytes: number;
  manifest: BackupManifest;
  /** Objects listed but gone before they could be read (deleted meanwhile). */
  vanished: string[];
  /** Audio rows (not deleted) whose storage key is not in the archive. */
  unmatchedAudioRows: number;
}

/** The version in the project's package.json, from the source or the built tree. */
export function appVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'verbatim' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/**
 * `backup <file>`: pg_dump of the database and every stored object into one tar.
 *
 * Everything streams: pg_dump writes to a temporary file beside the archive (tar needs
 * each entry's size before its bytes), objects go from the storage driver straight into
 * the archive, and the archive is written under a temporary name and renamed into
 * place only once complete, so a failed run never leaves a plausible-looking archive.
 */
@Injectable()
export class BackupService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorage() private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async backup(file: string, options: BackupOptions = {}): Promise<BackupReport> {
    const progress = options.progress ?? SILENT_PROGRESS;
    const log = options.log ?? (() => undefined);
    const target = resolve(file);
    const gzip = /\.(tgz|gz)$/i.test(target);
    const directory = await stat(dirname(target)).catch(() => null);
    if (!directory?.isDirectory()) throw new Error(`No directory ${dirname(target)} to write to`);
    const work = await mkdtemp(join(dirname(target), '.verbatim-backup-'));
    const partial = `${target}.partial-${randomBytes(6).toString('hex')}`;
    let writer: ArchiveWriter | undefined;
    let written: Promise<void> | undefined;
    try {
      // 1. The database first: objects written after the dump are at worst extra
      //    files in the archive, never rows without their file.
      log('Dumping the database (pg_dump, custom format)');
      const dumpPath = join(work, DUMP_ENTRY);
      const serverVersion = await this.serverVersion();
      await runPostgresTool(
        'pg_dump',
        ['--format=custom', `--file=${dumpPath}`],
        postgresEnvironment(this.config.get('DATABASE_URL')),
      );
      const dumpSize = (await stat(dumpPath)).size;
      const migrations = await this.appliedMigrations();

      // 2. Which objects there are (keys and sizes only; the bytes stream later).
      log(`Listing the ${this.storage.type} storage`);
      const listed: ListedObject[] = [];
      for await (const object of this.storage.list('')) listed.push(object);
      listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const objectBytes = listed.reduce((sum, o) => sum + o.size, 0);

      // 3. The archive.
      const archive = (writer = new ArchiveWriter(this.clock));
      const output = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
      written = (
        gzip ? pipeline(archive.pack, createGzip(), output) : pipeline(archive.pack, output)
      ).catch((error: Error) => {
        archive.abort(error);
        throw error;
      });
      written.catch(() => undefined);

      progress.start('backup', dumpSize + objectBytes);
      const advance = (bytes: number): void => progress.advance(bytes);
      const dumpSha = await archive.add(
        DUMP_ENTRY,
        dumpSize,
        createReadStream(dumpPath, { highWaterMark: 1 << 20 }),
        advance,
      );
      await unlink(dumpPath);

      const objects: ManifestObject[] = [];
      const vanished: string[] = [];
      for (const object of listed) {
        let body;
        try {
          body = await this.storage.get(object.key);
        } catch (error) {
          if (!(error instanceof StorageNotFoundError)) throw error;
          vanished.push(object.key);
          progress.advance(object.size);
          continue;
        }
        const sha256 = await archive.add(
          `${OBJECTS_DIR}${object.key}`,
          object.size,
          body as AsyncIterable<Buffer>,
          advance,
        );
        objects.push({ key: object.key, size: object.size, sha256 });
      }
      progress.stop();

      const manifest: BackupManifest = {
        format: ARCHIVE_FORMAT,
        formatVersion: ARCHIVE_FORMAT_VERSION,
        createdAt: this.clock.now().toISOString(),
        appVersion: appVersion(),
        migrations,
        database: {
          entry: DUMP_ENTRY,
          format: 'pg_dump custom',
          serverVersion,
          size: dumpSize,
          sha256: dumpSha,
        },
        storage: {
          driver: this.storage.type,
          totalBytes: objects.reduce((sum, o) => sum + o.size, 0),
        },
        objectCount: objects.length,
        objects,
      };
      await archive.addBuffer(
        MANIFEST_ENTRY,
        Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
      );
      archive.finalize();
      await written;
      await rename(partial, target);

      const archived = new Set(objects.map((o) => o.key));
      return {
        file: target,
        archiveBytes: (await stat(target)).size,
        manifest,
        vanished,
        unmatchedAudioRows: await this.audioRowsMissingFrom(archived),
      };
    } catch (error) {
      // Tear the archive stream down (closing the file) before removing what it wrote.
      writer?.abort(error instanceof Error ? error : new Error(String(error)));
      await written?.catch(() => undefined);
      await unlink(partial).catch(() => undefined);
      throw error;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async serverVersion(): Promise<string> {
    const [row] = await this.dataSource.query<{ server_version: string }[]>('SHOW server_version');
    return row?.server_version ?? 'unknown';
  }

  private async appliedMigrations(): Promise<string[]> {
    const table = this.dataSource.options.migrationsTableName ?? 'migrations';
    const [exists] = await this.dataSource.query<{ present: boolean }[]>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [table],
    );
    if (!exists?.present) return [];
    const rows = await this.dataSource.query<{ name: string }[]>(
      `SELECT name FROM "${table}" ORDER BY id`,
    );
    return rows.map((r) => r.name);
  }

  /**
   * A live system may archive or delete files while the backup runs: count the audio
   * rows whose file the archive does not hold, so the operator knows to run it again
   * in a quiet moment (workers stopped) when this is not zero.
   */
  private async audioRowsMissingFrom(archived: Set<string>): Promise<number> {
    const [exists] = await this.dataSource.query<{ present: boolean }[]>(
      "SELECT to_regclass('audio_files') IS NOT NULL AS present",
    );
    if (!exists?.present) return 0;
    let missing = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows = await this.dataSource.query<{ id: string; storage_key: string }[]>(
        `SELECT id, storage_key FROM audio_files
          WHERE deleted_at IS NULL AND id > $1
          ORDER BY id LIMIT 5000`,
        [after],
      );
      for (const row of rows) if (!archived.has(row.storage_key)) missing += 1;
      if (rows.length < 5000) return missing;
      after = rows[rows.length - 1]!.id;
    }
  }
}
