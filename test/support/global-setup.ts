import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '../../src/core/database/database-options';
import { seedDatabase } from './seed-fixture';
import { ADMIN, planTestRun, TestRun, testEnvironment } from './test-run';

declare global {
  var __VERBATIM_TEST_RUN__: TestRun | undefined;
}

/** Creates, migrates and seeds this run's own database; workers inherit the environment. */
export default async function globalSetup(): Promise<void> {
  const run = planTestRun();
  const admin = new Client({ connectionString: run.serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${run.databaseName}"`);
  await admin.end();

  const dataSource = new DataSource(databaseOptions({ url: run.databaseUrl, poolSize: 2 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await seedDatabase(dataSource, ADMIN);
  await dataSource.destroy();

  Object.assign(process.env, testEnvironment(run));
  globalThis.__VERBATIM_TEST_RUN__ = run;
}
