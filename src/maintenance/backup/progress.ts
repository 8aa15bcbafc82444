import { SingleBar } from 'cli-progress';
import { Clock, systemClock } from '../../core/clock/clock';

/** Byte progress of one phase of a long command. */
export interface Progress {
  start(label: string, totalBytes: number): void;
  advance(bytes: number): void;
  stop(): void;
}

/** Reports nothing (in-process callers and tests that do not watch progress). */
export const SILENT_PROGRESS: Progress = {
  start: () => undefined,
  advance: () => undefined,
  stop: () => undefined,
};

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * A progress bar (cli-progress) when `stream` is a terminal; otherwise plain lines, one
 * per 10 % step and at most one every few seconds, so logs of a cron job or a CI run
 * stay readable. `clock` paces the plain lines.
 */
export function terminalProgress(
  stream: NodeJS.WriteStream = process.stderr,
  clock: Clock = systemClock,
): Progress {
  if (stream.isTTY) {
    let bar: SingleBar | null = null;
    let done = 0;
    let total = 0;
    return {
      start(label, totalBytes) {
        bar?.stop();
        done = 0;
        total = totalBytes;
        bar = new SingleBar({
          stream,
          format: `${label.padEnd(10)} [{bar}] {percentage}% | {done} of {size} | ETA {eta_formatted}`,
          barCompleteChar: '█',
          barIncompleteChar: '░',
          hideCursor: true,
          etaBuffer: 50,
          fps: 10,
        });
        bar.start(Math.max(totalBytes, 1), 0, {
          done: formatBytes(0),
          size: formatBytes(totalBytes),
        });
      },
      advance(bytes) {
        done += bytes;
        bar?.update(Math.min(done, Math.max(total, 1)), { done: formatBytes(done) });
      },
      stop() {
        if (total === 0) bar?.update(1);
        bar?.stop();
        bar = null;
      },
    };
  }
  let label = '';
  let done = 0;
  let total = 0;
  let lastStep = -1;
  let lastAt = 0;
  const line = (force: boolean): void => {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    const step = Math.floor(percent / 10);
    if (!force && (step === lastStep || clock.nowMs() - lastAt < 2000)) return;
    lastStep = step;
    lastAt = clock.nowMs();
    stream.write(`${label}: ${percent}% (${formatBytes(done)} of ${formatBytes(total)})\n`);
  };
  return {
    start(name, totalBytes) {
      label = name;
      done = 0;
      total = totalBytes;
      lastStep = -1;
      lastAt = 0;
      line(true);
    },
    advance(bytes) {
      done += bytes;
      line(false);
    },
    stop() {
      if (lastStep !== 10) line(true);
    },
  };
}
