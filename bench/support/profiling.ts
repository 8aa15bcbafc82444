/**
 * Optional CPU profile of a bench child process: with BENCH_CPU_PROF=<dir> the process
 * profiles itself from start-up and writes `<dir>/<role>-<pid>.cpuprofile` when the
 * bench asks it to stop (an IPC message), before it is terminated. Open the file in
 * Chrome DevTools or summarise it with bench/support/profile-summary.ts.
 */
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function profileIfAsked(role: string): void {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return;
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () =>
    session.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
      session.post('Profiler.start'),
    ),
  );
  process.on('message', (message: { stopProfile?: boolean }) => {
    if (!message.stopProfile) return;
    session.post('Profiler.stop', (error, result) => {
      if (!error) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          join(dir, `${role}-${process.pid}.cpuprofile`),
          JSON.stringify(result.profile),
        );
      }
      process.send?.({ profileWritten: true });
    });
  });
}
