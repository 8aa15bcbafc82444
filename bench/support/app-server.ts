/**
 * Child process of the benchmarks: the real app exactly as `createApp()` builds it for
 * production, plus one raw Fastify route (`GET /bench-raw`, registered on the same
 * Fastify instance, outside Nest) to show what the app's global hooks cost.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { profileIfAsked } from './profiling';

async function main(): Promise<void> {
  profileIfAsked('app');
  const app = await createApp();
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/bench-raw', (_request, reply) => {
    void reply.send({ ok: true });
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  process.send?.({ ready: true, port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
