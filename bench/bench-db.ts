import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '../src/core/database/database-options';
import { seedDatabase } from '../test/support/seed-fixture';

/** The admin every throwaway database is seeded with. */
export const BENCH_DB_ADMIN = {
  username: 'admin',
  email: 'admin@bench.local',
  password: 'bench-admin-password',
};

/**
 * A throwaway, migrated and seeded database for one benchmark run, on the server of
 * BENCH_DATABASE_URL (else DATABASE_URL, else the local default).
 */
export async function throwawayDatabase(
  label: string,
): Promise<{ dataSource: DataSource; url: string; drop: () => Promise<void> }> {
  const server = new URL(
    process.env.BENCH_DATABASE_URL ??
      process.env.DATABASE_URL ??
      'postgres://postgres:postgres@127.0.0.1:5432/postgres',
  );
  const name = `verbatim_bench_${label}_${randomBytes(3).toString('hex')}`;
  server.pathname = '/postgres';
  const admin = new Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(server.toString());
  url.pathname = `/${name}`;
  const dataSource = new DataSource(databaseOptions({ url: url.toString(), poolSize: 4 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await seedDatabase(dataSource, BENCH_DB_ADMIN);
  return {
    dataSource,
    url: url.toString(),
    drop: async () => {
      await dataSource.destroy();
      const client = new Client({ connectionString: server.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Replaces the section between `<!-- id:start -->` and `<!-- id:end -->` in BENCHMARKS.md. */
export function writeBenchmarkSection(id: string, markdown: string): void {
  const file = 'BENCHMARKS.md';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `<!-- ${id}:start -->\n${markdown.trim()}\n<!-- ${id}:end -->`;
  const pattern = new RegExp(`<!-- ${id}:start -->[\\s\\S]*?<!-- ${id}:end -->`);
  writeFileSync(
    file,
    pattern.test(current) ? current.replace(pattern, block) : `${current.trimEnd()}\n\n${block}\n`,
  );
}
