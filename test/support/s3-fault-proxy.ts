import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

/**
 * How the proxy treats traffic: `pass` forwards it; `silent` accepts connections and
 * never answers (a black-holed endpoint); `cut-part-2` forwards everything but resets
 * every connection that sends a multipart UploadPart with partNumber=2 (a socket cut
 * during an upload, on every retry too).
 */
export type S3FaultMode = 'pass' | 'silent' | 'cut-part-2';

/** A TCP proxy in front of an S3 server whose behaviour the test switches. */
export class S3FaultProxy {
  private readonly sockets = new Set<net.Socket>();
  mode: S3FaultMode = 'pass';
  /** Connections reset in `cut-part-2` mode. */
  cuts = 0;
  /** Request lines (`METHOD path`) forwarded or cut, in order. */
  readonly requests: string[] = [];

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetUrl: string): Promise<S3FaultProxy> {
    const url = new URL(targetUrl);
    const server = net.createServer();
    const proxy = new S3FaultProxy(server, { host: url.hostname, port: Number(url.port) });
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Switches mode; open connections are reset, so pooled keep-alive sockets obey it too. */
  set(mode: S3FaultMode): void {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.set('pass');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.sockets.add(client);
    client.on('error', () => undefined).on('close', () => this.sockets.delete(client));
    if (this.mode === 'silent') {
      client.resume(); // read and drop whatever arrives; answer nothing
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(upstream);
    const drop = (): void => {
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop).on('close', drop);
    client.on('close', drop);
    client.on('data', (chunk: Buffer) => {
      const line = /^(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP\/1\.1\r\n/.exec(
        chunk.toString('latin1', 0, 2048),
      );
      if (line) this.requests.push(`${line[1]} ${line[2]}`);
      if (
        this.mode === 'cut-part-2' &&
        /[?&]partNumber=2(&| )/.test(chunk.toString('latin1', 0, 2048))
      ) {
        this.cuts++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
  }
}

/**
 * A port that never completes a connection: a listener in a stopped child process whose
 * accept queue is full, so the kernel drops further SYNs and a connect just waits.
 */
export async function startUnacceptingPort(): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  child.kill('SIGSTOP');
  // Fill the accept queue (backlog + 1 on Linux): these complete in the kernel and are
  // never accepted; the next SYN to the port is dropped.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    port,
    async stop() {
      for (const socket of fillers) socket.destroy();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
