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

async function main() {
  await installDependencies(log);
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
