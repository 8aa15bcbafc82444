// Helpers shared by the npm entry scripts (start, test, migration:check).
// Node built-ins only: these run before `npm install` has ever happened.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function makeLogger(tag) {
  return (message) => console.log(`[${tag}] ${message}`);
}

/** Latest modification time (ms) of a file, or of any file under a directory; 0 when absent. */
export function newestMtime(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    newest = Math.max(newest, newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

/** node_modules is missing, or package.json / package-lock.json changed since the last install. */
export function needsInstall() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  const installedAt = statSync(marker).mtimeMs;
  return ['package.json', 'package-lock.json'].some(
    (file) => newestMtime(path.join(ROOT, file)) > installedAt,
  );
}

export async function installDependencies(log) {
  if (!needsInstall()) return;
  log('installing dependencies (npm install)…');
  await run('npm', ['install', '--no-audit', '--no-fund'], { log });
  // npm leaves the hidden lockfile alone when nothing changed; touch it so the
  // next run does not reinstall for a package.json edit that changed no dependency.
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(marker)) {
    const now = new Date();
    utimesSync(marker, now, now);
  }
}

export class CommandFailed extends Error {
  constructor(command, code, signal) {
    super(`${command} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`);
    this.exitCode = signal ? 128 + (constants.signals[signal] ?? 1) : code || 1;
  }
}

let current = null;

/** The child started by `run` that is still running, if any (signal handlers forward to it). */
export function currentChild() {
  return current;
}

/**
 * Runs a command with inherited stdio and resolves when it succeeds. With `capture`,
 * stdout and stderr are also collected and returned (and still echoed unless `quiet`).
 */
export function run(
  command,
  args,
  { env = process.env, capture = false, quiet = false, allowFailure = false } = {},
) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env,
      stdio: capture ? ['inherit', 'pipe', 'pipe'] : 'inherit',
    });
    current = child;
    let output = '';
    if (capture) {
      for (const [stream, sink] of [
        [child.stdout, process.stdout],
        [child.stderr, process.stderr],
      ]) {
        stream.on('data', (chunk) => {
          output += chunk.toString();
          if (!quiet) sink.write(chunk);
        });
      }
    }
    child.on('error', (error) => {
      current = null;
      reject(error);
    });
    child.on('close', (code, signal) => {
      current = null;
      const label = [command, ...args].join(' ');
      if (code === 0 || allowFailure) resolve({ code, signal, output });
      else reject(Object.assign(new CommandFailed(label, code, signal), { output }));
    });
  });
}

export function signalExitCode(signal) {
  return 128 + (constants.signals[signal] ?? 1);
}

/** Prints an error the way every entry script does and exits. */
export function fail(error, log) {
  const message = error instanceof Error ? error.message : String(error);
  log(`error: ${message}`);
  process.exit(error?.exitCode ?? 1);
}
