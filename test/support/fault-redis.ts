import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `redis-server` can be started here (it is needed by the Redis restart test). */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A private redis-server on a free loopback port with the production durability
 * settings (AOF, fsync on every write, no eviction), data in its own temp directory.
 * `restart()` shuts it down the way an operator or a crash-restart does and starts it
 * again on the same port and directory, so only the AOF carries the data across.
 */
export class AofRedis {
  private child: ChildProcess | undefined;
  private readonly log: string[] = [];

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<AofRedis> {
    if (!redisServerAvailable()) {
      throw new Error(
        'redis-server is not on PATH: the Redis restart fault test (TARGETS R3) needs it ' +
          '(apt-get install redis-server, brew install redis).',
      );
    }
    const redis = new AofRedis(await freePort(), await mkdtemp(join(tmpdir(), 'verbatim-r3-')));
    await redis.boot();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  output(): string {
    return this.log.slice(-50).join('\n');
  }

  /** A client of its own (no key prefix), for probes. */
  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: false });
  }

  /**
   * SHUTDOWN (the AOF is fsynced, no RDB is written), `downMs` offline, then a new
   * server on the same port and directory. Returns when it answers PING again.
   * `wipe` empties the directory meanwhile: a Redis that comes back with no data.
   */
  async restart(downMs: number, { wipe = false } = {}): Promise<void> {
    await this.shutdown();
    if (wipe) {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir);
    }
    await sleep(downMs);
    await this.boot();
  }

  async stop(): Promise<void> {
    await this.shutdown().catch(() => this.child?.kill('SIGKILL'));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async shutdown(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const admin = new Redis(this.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      // The server closes the connection instead of answering.
      await admin.call('SHUTDOWN').catch(() => undefined);
    } finally {
      admin.disconnect();
    }
    await exited;
    this.child = undefined;
  }

  private async boot(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--protected-mode',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (chunk: Buffer): void => {
      this.log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.log.length > 500) this.log.splice(0, this.log.length - 500);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.child = child;
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 15_000;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`redis-server exited:\n${this.output()}`);
        try {
          if (probe.status !== 'ready') await probe.connect();
          // PING answers LOADING until the AOF is replayed.
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          probe.disconnect();
        }
        if (Date.now() > deadline)
          throw new Error(`redis-server did not answer in 15 s:\n${this.output()}`);
        await sleep(50);
      }
    } finally {
      probe.disconnect();
    }
  }
}
