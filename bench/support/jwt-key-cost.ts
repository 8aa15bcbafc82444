/**
 * Why the JWT check costs what it does: jsonwebtoken 9 `verify(token, secretString)` first
 * tries `createPublicKey(secret)` (an OpenSSL decode that fails and throws) before it
 * falls back to a secret key, on every call. A KeyObject made once skips both.
 *
 *   npx ts-node -T bench/support/jwt-key-cost.ts
 */
import { createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';

const secret = `bench-secret-${'x'.repeat(40)}`;
const token = jwt.sign({ sub: '00000000-0000-4000-8000-000000000001', tokenVersion: 1 }, secret, {
  algorithm: 'HS256',
  expiresIn: 900,
});
const keyObject = createSecretKey(Buffer.from(secret));
const runs = 3000;

for (const [name, key] of [
  ['string secret (as JwtStrategy passes it)', secret],
  ['KeyObject created once', keyObject],
] as const) {
  for (let i = 0; i < 200; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < runs; i++) jwt.verify(token, key, { algorithms: ['HS256'] });
  const used = process.cpuUsage(cpu);
  console.log(
    `${name}: ${(((performance.now() - started) / runs) * 1000).toFixed(1)} µs per verify ` +
      `(${((used.user + used.system) / runs).toFixed(1)} µs CPU)`,
  );
}
