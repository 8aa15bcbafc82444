import { ChildProcess, spawn } from 'node:child_process';

/**
 * libpq environment for the pg_dump / pg_restore child processes, from DATABASE_URL.
 * The password travels in PGPASSWORD, in the child's environment only: never on a
 * command line, where `ps` would show it to every user of the machine.
 */
export function postgresEnvironment(databaseUrl: string): Record<string, string> {
  const url = new URL(databaseUrl);
  const decode = (value: string): string => decodeURIComponent(value);
  const env: Record<string, string> = {
    PGHOST: url.searchParams.get('host') ?? (url.hostname.replace(/^\[|\]$/g, '') || 'localhost'),
    PGPORT: url.port || '5432',
    PGDATABASE: decode(url.pathname.replace(/^\//, '')),
    PGAPPNAME: 'verbatim-cli',
  };
  if (url.username) env.PGUSER = decode(url.username);
  if (url.password) env.PGPASSWORD = decode(url.password);
  const ssl: Record<string, string> = {
    sslmode: 'PGSSLMODE',
    sslrootcert: 'PGSSLROOTCERT',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
  };
  for (const [parameter, variable] of Object.entries(ssl)) {
    const value = url.searchParams.get(parameter);
    if (value) env[variable] = value;
  }
  if (!env.PGDATABASE) throw new Error('DATABASE_URL names no database');
  return env;
}

/**
 * The child inherits the parent's PG* variables, as the app's own driver (node-pg) reads
 * them too (PGPASSWORD for a DATABASE_URL without password, say), except those libpq
 * alone honours and that would point it elsewhere than DATABASE_URL.
 */
const DIVERGING_LIBPQ = /^PG(HOSTADDR|SERVICE|SERVICEFILE)$/;

type Tool = 'pg_dump' | 'pg_restore' | 'psql';

function childEnvironment(connection: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !DIVERGING_LIBPQ.test(name)),
  );
  return Object.assign(env, connection);
}

/**
 * Spawns one tool; `done` resolves when it exits 0 and rejects with its own error
 * output otherwise, or with install advice when it is not installed.
 */
function start(
  tool: Tool,
  args: string[],
  connection: Record<string, string>,
  stdio: { stdin: 'ignore' | 'pipe'; stdout: 'ignore' | 'pipe' },
): { child: ChildProcess; done: Promise<void> } {
  const child = spawn(tool, args, {
    env: childEnvironment(connection),
    stdio: [stdio.stdin, stdio.stdout, 'pipe'],
  });
  const done = new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      // Keep the tail only: the last lines carry the reason.
      stderr = (stderr + text).slice(-16_384);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${tool} was not found on PATH: install the PostgreSQL client tools ` +
                '(the same major version as the server, or newer)',
            )
          : error,
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${tool} failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim() || 'no output'}`,
          ),
        );
    });
  });
  done.catch(() => undefined);
  return { child, done };
}

/** Runs pg_dump (or another tool) with the connection in its environment. */
export async function runPostgresTool(
  tool: Tool,
  args: string[],
  connection: Record<string, string>,
): Promise<void> {
  await start(tool, ['--no-password', ...args], connection, {
    stdin: 'ignore',
    stdout: 'ignore',
  }).done;
}

/**
 * Restores a custom-format dump as one transaction: pg_restore turns it into SQL,
 * which psql runs after `before` (statements such as dropping the old schema), all
 * between one BEGIN and COMMIT, stopping at the first error. Either the database is
 * entirely the dump's, or it is left exactly as it was.
 */
export async function restoreInOneTransaction(
  dumpPath: string,
  before: string[],
  connection: Record<string, string>,
): Promise<void> {
  const restore = start(
    'pg_restore',
    // Objects belong to the restoring role, whatever roles the source server had.
    ['--no-owner', '--no-privileges', '--file=-', dumpPath],
    connection,
    { stdin: 'ignore', stdout: 'pipe' },
  );
  const psql = start(
    'psql',
    [
      '--no-password',
      '--no-psqlrc',
      '--quiet',
      '--single-transaction',
      '--set=ON_ERROR_STOP=1',
      ...before.flatMap((statement) => ['--command', statement]),
      '--file=-',
    ],
    connection,
    { stdin: 'pipe', stdout: 'ignore' },
  );
  // psql stopping early (an error) closes the pipe; pg_restore's EPIPE is not the news.
  psql.child.stdin!.on('error', () => undefined);
  // Nothing reads pg_restore's output once psql is gone: close it, or pg_restore blocks
  // for ever on a full pipe (any dump larger than the pipe's buffer) and so does this.
  psql.child.once('close', () => restore.child.stdout!.destroy());
  restore.child.stdout!.pipe(psql.child.stdin!);
  const [restored, applied] = await Promise.allSettled([restore.done, psql.done]);
  if (applied.status === 'rejected') throw applied.reason;
  if (restored.status === 'rejected') throw restored.reason;
}
