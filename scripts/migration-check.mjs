// `npm run migration:check`: proves the migrations folder is complete and reversible.
// On a throwaway database of the configured server: run every migration, require
// `schema:log` to find nothing left to synchronise with the entities, revert every
// migration (checking nothing is left behind), then run them all again.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, currentChild, makeLogger, run, signalExitCode } from './shared.mjs';
import {
  databaseName,
  dropDatabase,
  ensureDatabase,
  ensureServices,
  stopServices,
} from './services.mjs';

const log = makeLogger('migration:check');
const DATA_SOURCE = 'src/core/database/data-source.ts';
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

class CheckFailed extends Error {}

let throwaway = null;
let interrupted = null;

async function cleanUp() {
  if (throwaway) {
    const url = throwaway;
    throwaway = null;
    await dropDatabase(url).catch((error) =>
      log(`could not drop ${databaseName(url)}: ${error.message}`),
    );
    log(`dropped ${databaseName(url)}`);
  }
  await stopServices();
}

function onSignal(signal) {
  if (interrupted) return;
  interrupted = signal;
  currentChild()?.kill(signal);
  if (!currentChild()) void cleanUp().finally(() => process.exit(signalExitCode(signal)));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function migrationsTable() {
  const source = readFileSync(path.join(ROOT, 'src/core/database/database-options.ts'), 'utf8');
  return /migrationsTableName:\s*['"]([^'"]+)['"]/.exec(source)?.[1] ?? 'migrations';
}

async function typeorm(env, ...args) {
  if (interrupted) throw new CheckFailed(`interrupted by ${interrupted}`);
  log(`typeorm ${args.join(' ')}`);
  try {
    const { output } = await run(
      'npx',
      ['--no-install', 'typeorm-ts-node-commonjs', '-d', DATA_SOURCE, ...args],
      { env, capture: true, quiet: true },
    );
    return output.replace(ANSI, '');
  } catch (error) {
    if (error.output) process.stdout.write(error.output.replace(ANSI, ''));
    throw error;
  }
}

/** Whatever the migrations created and `down` failed to remove. */
async function leftovers(url) {
  const table = migrationsTable();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `
        WITH extension_members AS (
          SELECT objid FROM pg_depend WHERE deptype = 'e'
        )
        SELECT 'relation ' || n.nspname || '.' || c.relname AS object
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
           AND c.relname NOT IN ($1::text, $1::text || '_id_seq')
           AND c.oid NOT IN (SELECT objid FROM extension_members)
        UNION ALL
        SELECT 'function ' || n.nspname || '.' || p.proname
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND p.oid NOT IN (SELECT objid FROM extension_members)
        UNION ALL
        SELECT 'type ' || n.nspname || '.' || t.typname
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           AND t.typtype IN ('e', 'd', 'r', 'm')
           AND t.oid NOT IN (SELECT objid FROM extension_members)
        UNION ALL
        SELECT 'schema ' || n.nspname
          FROM pg_namespace n
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public')
           AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
           AND n.oid NOT IN (SELECT objid FROM extension_members)
        ORDER BY 1`,
      [table],
    );
    return rows.map((row) => row.object);
  } finally {
    await client.end();
  }
}

async function main() {
  const services = await ensureServices({ log: makeLogger('services'), redis: false });
  const url = new URL(services.DATABASE_URL);
  url.pathname = `/verbatim_migcheck_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await ensureDatabase(url.toString());
  throwaway = url.toString();
  log(`throwaway database ${databaseName(throwaway)}`);
  const env = {
    ...process.env,
    DATABASE_URL: throwaway,
    NO_COLOR: '1',
    // Type errors are the build's job; skipping them here saves seconds per command.
    TS_NODE_TRANSPILE_ONLY: 'true',
  };

  await typeorm(env, 'migration:run');

  const schemaLog = await typeorm(env, 'schema:log');
  if (!schemaLog.includes('Your schema is up to date')) {
    process.stdout.write(schemaLog);
    throw new CheckFailed(
      'the entities and the migrations disagree: the SQL above is what a new migration must contain ' +
        '(npm run migration:generate -- migrations/<Name>, then read and tidy it)',
    );
  }
  log('schema matches the entities');

  let reverted = 0;
  for (;;) {
    const output = await typeorm(env, 'migration:revert');
    if (output.includes('Nothing to revert')) break;
    if (!/has been reverted successfully/.test(output)) {
      process.stdout.write(output);
      throw new CheckFailed('migration:revert did not report a reverted migration');
    }
    reverted += 1;
    log(`  ${/Migration (\S+) has been reverted/.exec(output)?.[1] ?? 'a migration'} reverted`);
    if (reverted > 10_000) throw new CheckFailed('migration:revert never stops');
  }
  log(`reverted ${reverted} migration(s)`);
  const left = await leftovers(throwaway);
  if (left.length > 0) {
    throw new CheckFailed(`down() left these behind:\n  ${left.join('\n  ')}`);
  }

  await typeorm(env, 'migration:run');
  log('OK: migrations run, match the entities, revert cleanly and run again');
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = interrupted ? signalExitCode(interrupted) : (error.exitCode ?? 1);
  log(`FAILED: ${error.message}`);
} finally {
  await cleanUp();
}
process.exit(exitCode);
