/**
 * Child process of bench:webhooks: BENCH_RECEIVERS HTTP endpoints on 127.0.0.1 answering
 * 204, in a process of their own so that neither the publishers nor the bare fetch loop
 * share their event loop. Records the first arrival of every webhook-id; answers `report`
 * (and `reset`) messages from the parent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const count = Number(process.env.BENCH_RECEIVERS ?? 5);
const firstSeen = new Map<string, number>();
let requests = 0;

async function main(): Promise<void> {
  const urls: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const server = createServer((req, res) => {
      const now = Date.now();
      requests += 1;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string' && !firstSeen.has(id)) firstSeen.set(id, now);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
  }
  process.on('message', (message: { type: string }) => {
    if (message.type === 'reset') {
      firstSeen.clear();
      requests = 0;
      process.send?.({ type: 'reset' });
    } else if (message.type === 'count') {
      process.send?.({ type: 'count', seen: firstSeen.size, requests });
    } else if (message.type === 'report') {
      process.send?.({ type: 'report', firstSeen: [...firstSeen.entries()], requests });
    }
  });
  process.send?.({ ready: true, urls });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
