import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '../../src/core/database/database-options';
import { seedDatabase } from './seed-fixture';
import { ADMIN } from './test-run';

/**
 * A migrated, seeded database of a spec's own, beside the run's shared one. For specs
 * that must own something global, such as the audit chain they tamper with: another
 * spec appending to a chain while its tail is edited would link to the edited hash.
 */
export async function isolatedDatabase(
  label: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const shared = new URL(process.env.DATABASE_URL!);
  const name = `${shared.pathname.slice(1)}_${label}_${randomBytes(2).toString('hex')}`;
  const server = new URL(shared.toString());
  server.pathname = '/postgres';
  const admin = new Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(shared.toString());
  url.pathname = `/${name}`;
  const dataSource = new DataSource(databaseOptions({ url: url.toString(), poolSize: 2 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await seedDatabase(dataSource, ADMIN);
  await dataSource.destroy();
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: server.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}
