// `npm start`: from a fresh clone to a running API in one command.
// install → .env → build → PostgreSQL + Redis → migrate → seed → API (+ workers).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  currentChild,
  fail,
  installDependencies,
  makeLogger,
  newestMtime,
  run,
  signalExitCode,
} from './shared.mjs';
import { ensureDatabase, ensureServices, stopServices } from './services.mjs';

const log = makeLogger('start');
if (Number(process.versions.node.split('.')[0]) < 22) {
  log(
    `Node ${process.versions.node} is past end of life; Verbatim supports Node 22 LTS (README "Runtime")`,
  );
}
const ENTRIES = ['main.js', 'worker.js', 'cli.js'].map((file) =>
  path.join(ROOT, 'dist', 'src', file),
);

let app = null;
let stopping = null;

function onSignal(signal) {
  if (stopping) {
    // npm and the terminal both deliver Ctrl-C; only a later, deliberate repeat forces.
    if (Date.now() - stopping.at > 2000 && app) {
      log('forcing the API to stop');
      app.kill('SIGKILL');
    }
    return;
  }
  stopping = { signal, at: Date.now() };
  if (app) {
    log(`${signal}: stopping the API (it finishes in-flight work first)…`);
    app.kill(signal);
  } else {
    currentChild()?.kill(signal);
    if (!currentChild()) void stopServices().finally(() => process.exit(signalExitCode(signal)));
  }
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function ensureEnvFile() {
  const envFile = path.join(ROOT, '.env');
  const secret = () => randomBytes(48).toString('base64url');
  if (!existsSync(envFile)) {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    writeFileSync(envFile, example.replace(/^JWT_SECRET=.*$/m, `JWT_SECRET=${secret()}`), {
      mode: 0o600,
    });
    log('created .env from .env.example with a fresh random JWT_SECRET');
    return;
  }
  const current = readFileSync(envFile, 'utf8');
  if (/^JWT_SECRET=\s*$/m.test(current) && !/^JWT_ALGORITHM=RS256/m.test(current)) {
    writeFileSync(envFile, current.replace(/^JWT_SECRET=\s*$/m, `JWT_SECRET=${secret()}`));
    log('filled the empty JWT_SECRET in .env with a fresh random value');
  }
}

function needsBuild() {
  const builtAt = Math.min(...ENTRIES.map((file) => newestMtime(file) || 0));
  if (builtAt === 0) return true;
  const sources = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];
  return sources.some((source) => newestMtime(path.join(ROOT, source)) > builtAt);
}

async function main() {
  await installDependencies(log);
  ensureEnvFile();
  if (needsBuild()) {
    log('building (npm run build)…');
    await run('npm', ['run', 'build']);
  }

  const services = await ensureServices({ log: makeLogger('services') });
  const env = { ...process.env, ...services };
  if (await ensureDatabase(env.DATABASE_URL)) log('created the database');

  for (const command of ['migrate', 'seed']) {
    if (stopping) break;
    log(`node dist/src/cli.js ${command}`);
    await run(process.execPath, [path.join('dist', 'src', 'cli.js'), command], { env });
  }
  if (stopping) {
    await stopServices();
    process.exit(signalExitCode(stopping.signal));
  }

  log('starting the API (node dist/src/main.js); Ctrl-C stops it');
  // Own process group: a terminal Ctrl-C reaches only this script, which forwards it
  // once — Nest's shutdown hooks would treat a second SIGINT as "die now".
  app = spawn(process.execPath, [path.join('dist', 'src', 'main.js')], {
    cwd: ROOT,
    env,
    stdio: 'inherit',
    detached: true,
  });
  process.on('exit', () => {
    if (app && app.exitCode === null && app.signalCode === null) app.kill('SIGTERM');
  });
  const [code, signal] = await new Promise((resolve) =>
    app.once('exit', (...result) => resolve(result)),
  );
  app = null;
  await stopServices();
  // A stop we asked for that the API honoured is a clean exit, not a failure.
  if (stopping && (code === 0 || signal === stopping.signal)) process.exit(0);
  process.exit(signal ? signalExitCode(signal) : (code ?? 1));
}

main().catch(async (error) => {
  await stopServices().catch(() => {});
  fail(error, log);
});
