// `npm test [-- <jest args>]`: dependencies, PostgreSQL and Redis, then the whole suite.
// The Jest global setup creates a throwaway database and a Redis key prefix per run,
// so this script only makes the servers reachable; it never writes .env.
import {
  currentChild,
  fail,
  installDependencies,
  makeLogger,
  run,
  signalExitCode,
} from './shared.mjs';
import { existsSync } from 'node:fs';
import { ensureServices, stopServices } from './services.mjs';

const log = makeLogger('test');
let stopping = null;

function onSignal(signal) {
  if (stopping) return;
  stopping = signal;
  const child = currentChild();
  if (child) child.kill(signal);
  else void stopServices().finally(() => process.exit(signalExitCode(signal)));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/**
 * The Bull Board browser test drives the system's Chromium. Like PostgreSQL and Redis, it is
 * installed when missing and this process may (root with apt-get, as on CI); otherwise the
 * test fails naming the install command.
 */
async function ensureChromium() {
  if (process.env.CHROMIUM_PATH || existsSync('/usr/bin/chromium')) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    log('Chromium is missing: install it (apt-get install chromium) or set CHROMIUM_PATH');
    return;
  }
  log('installing Chromium for the browser test (apt-get install chromium)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, allowFailure: true });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
    env,
    allowFailure: true,
  });
}

async function main() {
  await installDependencies(log);
  await ensureChromium();
  const services = await ensureServices({ log: makeLogger('services') });
  const { code, signal } = await run(
    'npx',
    ['--no-install', 'jest', '--config', 'jest.config.js', ...process.argv.slice(2)],
    { env: { ...process.env, ...services }, allowFailure: true },
  );
  await stopServices();
  process.exit(signal ? signalExitCode(signal) : (code ?? 1));
}

main().catch(async (error) => {
  await stopServices().catch(() => {});
  fail(error, log);
});
