import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<v>/bin`). */
async function binaries(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql'))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0)
    throw new Error('No PostgreSQL server binaries under /usr/lib/postgresql');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/** PostgreSQL refuses to run as root: as root, every server command runs as `postgres`. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, args];
}

export interface PgPair {
  primaryUrl: string;
  replicaUrl: string;
  /** Stops the replica's server (immediate shutdown, as a crash would). */
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  /** Pauses or resumes WAL replay on the replica: writes stop (or start) showing there. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Waits until the replica has replayed everything the primary has written so far. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real streaming-replication pair on loopback (SPEC section 12, read replicas): a
 * primary made with `initdb`, a replica cloned from it with `pg_basebackup -R` and started
 * on another port. Small and private to the spec, so the machine's own server is untouched.
 */
export async function startPgPair(ports: { primary: number; replica: number }): Promise<PgPair> {
  const bin = await binaries();
  const root = await mkdtemp(join(tmpdir(), 'verbatim-pg-pair-'));
  await chmod(root, 0o755);
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const primaryDir = join(root, 'primary');
  const replicaDir = join(root, 'replica');
  const exec = async (tool: string, args: string[]): Promise<string> => {
    const [command, full] = asServerUser(join(bin, tool), args);
    const { stdout } = await run(command, full, { cwd: root, maxBuffer: 10 * 1024 * 1024 });
    return stdout;
  };
  const serverOptions = (port: number) =>
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60`;
  const pgCtl = (dir: string, port: number, action: 'start' | 'stop') =>
    action === 'start'
      ? exec('pg_ctl', [
          '-D',
          dir,
          '-l',
          `${dir}.log`,
          '-w',
          '-t',
          '60',
          '-o',
          serverOptions(port),
          'start',
        ])
      : exec('pg_ctl', ['-D', dir, '-m', 'immediate', '-w', 'stop']);

  await exec('initdb', [
    '-D',
    primaryDir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  await pgCtl(primaryDir, ports.primary, 'start');
  await exec('pg_basebackup', [
    '-h',
    '127.0.0.1',
    '-p',
    String(ports.primary),
    '-U',
    'postgres',
    '-D',
    replicaDir,
    '-R',
    '-X',
    'stream',
    '--no-sync',
  ]);
  await pgCtl(replicaDir, ports.replica, 'start');

  const url = (port: number, database = 'postgres') =>
    `postgres://postgres@127.0.0.1:${port}/${database}`;
  const query = async <T>(port: number, sql: string): Promise<T[]> => {
    const client = new Client({ connectionString: url(port) });
    await client.connect();
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  };
  await query(ports.primary, 'CREATE DATABASE verbatim');

  return {
    primaryUrl: url(ports.primary, 'verbatim'),
    replicaUrl: url(ports.replica, 'verbatim'),
    stopReplica: async () => void (await pgCtl(replicaDir, ports.replica, 'stop')),
    startReplica: async () => void (await pgCtl(replicaDir, ports.replica, 'start')),
    pauseReplay: async () => void (await query(ports.replica, 'SELECT pg_wal_replay_pause()')),
    resumeReplay: async () => void (await query(ports.replica, 'SELECT pg_wal_replay_resume()')),
    caughtUp: async () => {
      const [primary] = await query<{ lsn: string }>(
        ports.primary,
        'SELECT pg_current_wal_lsn() AS lsn',
      );
      for (let i = 0; i < 200; i++) {
        const [replica] = await query<{ behind: boolean }>(
          ports.replica,
          `SELECT pg_last_wal_replay_lsn() < '${primary!.lsn}'::pg_lsn AS behind`,
        );
        if (replica && !replica.behind) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the replica did not catch up within 10 s');
    },
    stop: async () => {
      await pgCtl(replicaDir, ports.replica, 'stop').catch(() => undefined);
      await pgCtl(primaryDir, ports.primary, 'stop').catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
