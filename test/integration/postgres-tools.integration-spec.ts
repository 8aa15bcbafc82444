import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  postgresEnvironment,
  restoreInOneTransaction,
  runPostgresTool,
} from '../../src/maintenance/backup/postgres-tools';

/**
 * The restore's pipe (pg_restore | psql, one transaction) against the real server and
 * client tools: psql stopping at its first error must end the restore, also when the
 * dump is far larger than a pipe's buffer, and leave the database as it was.
 */
describe('Restoring a dump in one transaction (pg_restore | psql)', () => {
  const server = new URL(process.env.DATABASE_URL!);
  server.pathname = '/postgres';
  const names: string[] = [];
  let work: string;

  const urlOf = (name: string): string => {
    const url = new URL(server.toString());
    url.pathname = `/${name}`;
    return url.toString();
  };
  const onServer = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ connectionString: server.toString() });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const createDatabase = async (label: string): Promise<string> => {
    const name = `${new URL(process.env.DATABASE_URL!).pathname.slice(1)}_${label}_${randomBytes(2).toString('hex')}`;
    await onServer((c) => c.query(`CREATE DATABASE "${name}"`));
    names.push(name);
    return urlOf(name);
  };
  const query = async <T>(url: string, sql: string): Promise<T[]> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  };

  /** A custom-format dump of a new database made by `sql`. */
  const dumpOf = async (label: string, sql: string): Promise<string> => {
    const source = await createDatabase(label);
    await query(source, sql);
    const dump = join(work, `${label}.dump`);
    await runPostgresTool(
      'pg_dump',
      ['--format=custom', `--file=${dump}`],
      postgresEnvironment(source),
    );
    return dump;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'verbatim-pgtools-'));
  });
  afterAll(async () => {
    await onServer(async (c) => {
      for (const name of names) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
    await rm(work, { recursive: true, force: true });
  });

  it('ends with psql’s error when psql stops early, the dump many times a pipe buffer; nothing changes', async () => {
    // About 2 MB of COPY data: pg_restore blocks on the pipe long before the end.
    const dump = await dumpOf(
      'pgt_src',
      `CREATE TABLE notes AS SELECT n, repeat('x', 400) AS body FROM generate_series(1, 5000) n`,
    );
    const target = await createDatabase('pgt_dst');
    await query(target, `CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)`);
    const started = Date.now();
    await expect(
      restoreInOneTransaction(
        dump,
        ['DROP TABLE kept', 'SELECT no_such_function()'],
        postgresEnvironment(target),
      ),
    ).rejects.toThrow(/psql failed.*no_such_function/s);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await query(target, 'SELECT id FROM kept')).toEqual([{ id: 1 }]);
    expect(await query(target, `SELECT to_regclass('public.notes') IS NULL AS absent`)).toEqual([
      { absent: true },
    ]);
  });

  it('restores the whole dump when every statement succeeds', async () => {
    const dump = await dumpOf(
      'pgt_src2',
      'CREATE TABLE notes AS SELECT n FROM generate_series(1, 3000) n',
    );
    const target = await createDatabase('pgt_dst2');
    await restoreInOneTransaction(dump, [], postgresEnvironment(target));
    expect(await query(target, 'SELECT count(*)::int AS n FROM notes')).toEqual([{ n: 3000 }]);
  });
});
