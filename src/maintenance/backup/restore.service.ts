import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import type { ChainVerdict } from '../../audit/audit-chain';
import { AppConfig } from '../../core/config/app-config';
import { StorageDriver } from '../../core/storage/storage-driver';
import { InjectStorage } from '../../core/storage/storage.module';
import {
  ArchiveDamagedError,
  BackupManifest,
  digestOf,
  DUMP_ENTRY,
  MANIFEST_ENTRY,
  ManifestObject,
  OBJECTS_DIR,
  parseManifest,
  readArchive,
  verified,
} from './archive';
import { postgresEnvironment, restoreInOneTransaction } from './postgres-tools';
import { Progress, SILENT_PROGRESS } from './progress';

export interface RestoreOptions {
  /** Overwrite a database that already holds users or cases. */
  force?: boolean;
  progress?: Progress;
  log?: (line: string) => void;
}

export interface RestoreReport {
  manifest: BackupManifest;
  /** The target held tables: its schema was dropped and recreated (in the restore's transaction). */
  cleaned: boolean;
  objectsRestored: number;
  bytesRestored: number;
  /** Objects already in storage that the backup does not hold; left in place. */
  strayObjects: number;
  /** Migrations this code has that the restored database has not applied yet. */
  pendingMigrations: string[];
  rows: Record<string, number>;
  audit: ChainVerdict;
}

/** The target database holds data and `--force` was not given; nothing was changed. */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

interface TargetState {
  database: string;
  tables: number;
  users: number;
  cases: number;
}

/** Tables whose row counts the report shows (when they exist). */
const REPORTED_TABLES = ['users', 'cases', 'audio_files', 'conversations', 'turns', 'audit_logs'];

/**
 * `restore <file>`: the reverse of BackupService. In order:
 *   1. refuse (changing nothing) when the target holds users or cases, unless forced;
 *   2. read the whole archive once, checking every sha256 against the manifest, so a
 *      damaged archive is refused before anything is touched;
 *   3. restore the dump (pg_restore | psql) in a single transaction: all or nothing;
 *   4. put every object back, each verified against its sha256 as it streams (a
 *      mismatch fails that put, which then stores nothing);
 *   5. walk the audit hash chain of the restored database and report it.
 */
@Injectable()
export class RestoreService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorage() private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  async restore(file: string, options: RestoreOptions = {}): Promise<RestoreReport> {
    const progress = options.progress ?? SILENT_PROGRESS;
    const log = options.log ?? (() => undefined);
    const archive = resolve(file);
    const info = await stat(archive).catch(() => null);
    if (!info?.isFile()) throw new Error(`No backup archive at ${archive}`);

    const target = await this.targetState();
    if ((target.users > 0 || target.cases > 0) && !options.force) {
      throw new RestoreRefusedError(
        `Refusing to restore: database "${target.database}" already holds data ` +
          `(${target.users} users, ${target.cases} cases). Restoring replaces all of it; ` +
          'run again with --force to overwrite. Nothing was changed.',
      );
    }

    log(`Verifying ${archive}`);
    progress.start('verify', info.size);
    const manifest = await this.verifyArchive(archive, progress);
    progress.stop();

    const known = this.knownMigrations();
    const unknown = manifest.migrations.filter((name) => !known.includes(name));
    if (unknown.length > 0 && !options.force) {
      throw new RestoreRefusedError(
        `Refusing to restore: the backup's schema has migrations this version does not know ` +
          `(${unknown.join(', ')}); restore it with the version that made it ` +
          `(${manifest.appVersion}), or pass --force. Nothing was changed.`,
      );
    }

    log(
      `Restoring a backup of ${manifest.createdAt} (app ${manifest.appVersion}): ` +
        `database and ${manifest.objectCount} objects`,
    );
    const cleaned = target.tables > 0;
    const expected = new Map(manifest.objects.map((o) => [o.key, o]));
    let objectsRestored = 0;
    let bytesRestored = 0;
    const work = await mkdtemp(join(tmpdir(), 'verbatim-restore-'));
    try {
      progress.start('restore', info.size);
      for await (const entry of readArchive(archive, (bytes) => progress.advance(bytes))) {
        if (entry.name === DUMP_ENTRY) {
          const dumpPath = join(work, DUMP_ENTRY);
          await pipeline(
            Readable.from(
              verified(entry.body, {
                name: DUMP_ENTRY,
                size: manifest.database.size,
                sha256: manifest.database.sha256,
              }),
            ),
            createWriteStream(dumpPath, { mode: 0o600 }),
          );
          await this.restoreDatabase(dumpPath, cleaned);
          await rm(dumpPath, { force: true });
        } else if (entry.name.startsWith(OBJECTS_DIR)) {
          const object = expected.get(entry.name.slice(OBJECTS_DIR.length));
          if (!object) throw new ArchiveDamagedError(`${entry.name} is not in the manifest`);
          await this.storage.put(
            object.key,
            Readable.from(verified(entry.body, { name: entry.name, ...object }), {
              objectMode: false,
            }),
          );
          objectsRestored += 1;
          bytesRestored += object.size;
        } else {
          await digestOf(entry.body); // the manifest, read in the first pass
        }
      }
      progress.stop();
    } finally {
      await rm(work, { recursive: true, force: true });
    }

    log('Checking the audit chain');
    const audit = await this.audit.verify({});
    return {
      manifest,
      cleaned,
      objectsRestored,
      bytesRestored,
      strayObjects: await this.countStrays(expected),
      pendingMigrations: await this.pendingMigrations(known),
      rows: await this.rowCounts(),
      audit,
    };
  }

  /** First pass: every entry hashed and compared with the manifest; nothing written. */
  private async verifyArchive(archive: string, progress: Progress): Promise<BackupManifest> {
    let manifestText: string | null = null;
    let dump: { sha256: string; size: number } | null = null;
    const objects = new Map<string, { sha256: string; size: number }>();
    for await (const entry of readArchive(archive, (bytes) => progress.advance(bytes))) {
      if (entry.name === MANIFEST_ENTRY) {
        if (entry.size > 1 << 30) throw new ArchiveDamagedError('manifest.json is too large');
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) chunks.push(chunk);
        manifestText = Buffer.concat(chunks).toString('utf8');
      } else if (entry.name === DUMP_ENTRY) {
        dump = await digestOf(entry.body);
      } else if (entry.name.startsWith(OBJECTS_DIR)) {
        objects.set(entry.name.slice(OBJECTS_DIR.length), await digestOf(entry.body));
      } else {
        throw new ArchiveDamagedError(`unexpected entry ${entry.name}`);
      }
    }
    if (manifestText === null) throw new ArchiveDamagedError('manifest.json is missing');
    const manifest = parseManifest(manifestText);
    if (!dump) throw new ArchiveDamagedError(`${DUMP_ENTRY} is missing`);
    if (dump.size !== manifest.database.size || dump.sha256 !== manifest.database.sha256) {
      throw new ArchiveDamagedError(`${DUMP_ENTRY} does not match the sha256 in the manifest`);
    }
    const mismatch = (o: ManifestObject): boolean => {
      const found = objects.get(o.key);
      return !found || found.size !== o.size || found.sha256 !== o.sha256;
    };
    const bad = manifest.objects.find(mismatch);
    if (bad) {
      throw new ArchiveDamagedError(
        objects.has(bad.key)
          ? `${OBJECTS_DIR}${bad.key} does not match the sha256 in the manifest`
          : `${OBJECTS_DIR}${bad.key} is missing`,
      );
    }
    if (objects.size !== manifest.objects.length) {
      throw new ArchiveDamagedError('the archive holds objects the manifest does not list');
    }
    return manifest;
  }

  private async restoreDatabase(dumpPath: string, clean: boolean): Promise<void> {
    // Replacing a schema: drop it whole and recreate it empty, in the same transaction
    // as the restore. (pg_restore --clean cannot drop partitioned tables such as turns:
    // "cannot drop inherited constraint".) Tables of later migrations go too, so the
    // database ends up exactly as the backup had it.
    const [row] = await this.dataSource.query<{ schema: string }[]>(
      'SELECT current_schema() AS schema',
    );
    const schema = `"${(row?.schema ?? 'public').replace(/"/g, '""')}"`;
    await restoreInOneTransaction(
      dumpPath,
      clean ? [`DROP SCHEMA ${schema} CASCADE`, `CREATE SCHEMA ${schema}`] : [],
      postgresEnvironment(this.config.get('DATABASE_URL')),
    );
  }

  private async targetState(): Promise<TargetState> {
    const [row] = await this.dataSource.query<
      { database: string; tables: number; users: boolean; cases: boolean }[]
    >(
      `SELECT current_database() AS database,
              (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')) AS tables,
              to_regclass('users') IS NOT NULL AS users,
              to_regclass('cases') IS NOT NULL AS cases`,
    );
    const count = async (table: string, present: boolean | undefined): Promise<number> => {
      if (!present) return 0;
      const [r] = await this.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM "${table}"`,
      );
      return r?.n ?? 0;
    };
    return {
      database: row?.database ?? '?',
      tables: row?.tables ?? 0,
      users: await count('users', row?.users),
      cases: await count('cases', row?.cases),
    };
  }

  private knownMigrations(): string[] {
    return this.dataSource.migrations.map((m) => m.name ?? m.constructor.name);
  }

  private async pendingMigrations(known: string[]): Promise<string[]> {
    const table = this.dataSource.options.migrationsTableName ?? 'migrations';
    const [exists] = await this.dataSource.query<{ present: boolean }[]>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [table],
    );
    if (!exists?.present) return known;
    const applied = new Set(
      (await this.dataSource.query<{ name: string }[]>(`SELECT name FROM "${table}"`)).map(
        (r) => r.name,
      ),
    );
    return known.filter((name) => !applied.has(name));
  }

  private async countStrays(expected: Map<string, ManifestObject>): Promise<number> {
    let strays = 0;
    for await (const object of this.storage.list('')) if (!expected.has(object.key)) strays += 1;
    return strays;
  }

  private async rowCounts(): Promise<Record<string, number>> {
    const rows: Record<string, number> = {};
    for (const table of REPORTED_TABLES) {
      const [present] = await this.dataSource.query<{ present: boolean }[]>(
        'SELECT to_regclass($1) IS NOT NULL AS present',
        [table],
      );
      if (!present?.present) continue;
      const [r] = await this.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM "${table}"`,
      );
      rows[table] = r?.n ?? 0;
    }
    return rows;
  }
}
