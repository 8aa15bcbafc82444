// Container entry point (see Dockerfile / docker-compose.yml):
//   node scripts/container.mjs api     migrate, seed, then serve the API
//   node scripts/container.mjs worker  run the queue workers
// Without JWT_SECRET (HS256) a random one is generated once into a volume shared by
// api and worker, so `docker compose up` needs no configuration; set JWT_SECRET to
// choose your own.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';

const ENTRIES = { api: 'dist/src/main.js', worker: 'dist/src/worker.js' };
const role = process.argv[2];
if (!(role in ENTRIES)) {
  console.error(`usage: node scripts/container.mjs ${Object.keys(ENTRIES).join('|')}`);
  process.exit(2);
}

if (!process.env.JWT_SECRET && (process.env.JWT_ALGORITHM ?? 'HS256') === 'HS256') {
  const file = process.env.JWT_SECRET_FILE ?? '/app/.data/secrets/jwt_secret';
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
    console.log(`[container] generated a JWT secret in ${file}`);
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
  process.env.JWT_SECRET = readFileSync(file, 'utf8').trim();
}

if (role === 'api') {
  for (const command of ['migrate', 'seed']) {
    const result = spawnSync(process.execPath, ['dist/src/cli.js', command], { stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
}

const child = spawn(process.execPath, [ENTRIES[role]], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) =>
  process.exit(signal ? 128 + (constants.signals[signal] ?? 1) : (code ?? 1)),
);
