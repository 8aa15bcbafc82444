/**
 * P7 — upload and download of a 1 GiB audio file through the running app (local driver):
 *      RSS grows < 64 MiB; throughput ≥ 50 % of `cp` on the same disk.
 * P8 — archive job of 1,000 files: ≥ 80 % of the throughput of `sha256sum` + `cp` of the
 *      same files; progress reported.
 *
 *   npm run bench:storage
 *   BENCH_P7_BYTES=1073741824 BENCH_P8_FILES=1000 BENCH_P8_FILE_BYTES=2097152 npm run bench:storage
 *   BENCH_ONLY=p8 BENCH_P8_ROUNDS=5 npm run bench:storage   # P8 alone, median of 5 rounds
 *
 * Creates a throwaway database (BENCH_DATABASE_URL server) and Redis prefix, boots the
 * real app in this process on loopback with its in-process workers, and measures each
 * workload side by side with the shell baseline on the same directory (BENCH_DIR, default
 * under the OS temp dir). P8 runs BENCH_P8_ROUNDS rounds (default 3) of baseline then
 * archive of the same files, restoring them between rounds, and reports medians: other
 * work on the machine moves single runs a lot. Writes the table and this command into
 * BENCHMARKS.md (section "Storage (P7, P8)"), unless BENCH_ONLY leaves a target out.
 * Exits 1 when a target is missed.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { RetentionJobData, RetentionJobName } from '../src/audio-files/audio-jobs';
import { withInProcessApp } from './support/in-process-app';
import { mbps, median, rssWatch } from './support/measure';
import { QueueName } from '../src/core/queue/queue-names';

const P7_BYTES = Number(process.env.BENCH_P7_BYTES ?? 1024 ** 3);
const P8_FILES = Number(process.env.BENCH_P8_FILES ?? 1000);
const P8_FILE_BYTES = Number(process.env.BENCH_P8_FILE_BYTES ?? 2 * 1024 ** 2);
const P8_ROUNDS = Number(process.env.BENCH_P8_ROUNDS ?? 3);
/** `p7` or `p8` runs that target alone (and leaves BENCHMARKS.md as it is). */
const ONLY = process.env.BENCH_ONLY?.toLowerCase();
const MiB = 1024 * 1024;

const time = (command: string, args: string[]): number => {
  const start = performance.now();
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 64 * MiB });
  return (performance.now() - start) / 1000;
};
async function main(): Promise<void> {
  const rows: string[][] = [];
  let failed = false;
  let p7Ok = true;
  let p8Ok = true;
  await withInProcessApp('storage', async ({ app, dir, dataSource, base, auth, call, curl }) => {
    const { uploadAudio, writeLargeWav, wavHeader } = await import('../test/support/audio');
    const fakeApp = { app } as unknown as Parameters<typeof uploadAudio>[0];

    const caseOf = async (title: string) =>
      (await call('POST', '/cases', auth, { title })).body.id as string;

    // ---------------------------------------------------------------- P7
    if (ONLY !== 'p8') {
      console.log(`P7: generating a ${(P7_BYTES / MiB).toFixed(0)} MiB WAV in ${dir}`);
      const large = await writeLargeWav(P7_BYTES);
      const cpSeconds = time('cp', [large.path, join(dir, 'cp-copy.wav')]);
      const ddSeconds = time('dd', [
        `if=${large.path}`,
        `of=${join(dir, 'dd-copy.wav')}`,
        'bs=1M',
        'status=none',
      ]);
      await rm(join(dir, 'cp-copy.wav'));
      await rm(join(dir, 'dd-copy.wav'));
      const p7Case = await caseOf('P7');

      // curl is the client, in its own process: the app's process holds only the server.
      const uploadWatch = rssWatch();
      let start = performance.now();
      const uploaded = JSON.parse(
        await curl(['-F', `file=@${large.path};type=audio/wav`, `${base}/cases/${p7Case}/audio`]),
      ) as { id: string; sha256: string };
      const uploadSeconds = (performance.now() - start) / 1000;
      const uploadRss = uploadWatch.stop();
      if (uploaded.sha256 !== large.sha256) {
        throw new Error(`P7 upload failed: ${JSON.stringify(uploaded)}`);
      }
      const downloadWatch = rssWatch();
      start = performance.now();
      const downloaded = Number(
        await curl([
          '-o',
          '/dev/null',
          '-w',
          '%{size_download}',
          `${base}/audio/${uploaded.id}/content`,
        ]),
      );
      const downloadSeconds = (performance.now() - start) / 1000;
      const downloadRss = downloadWatch.stop();
      if (downloaded !== large.size) throw new Error(`P7 download returned ${downloaded} bytes`);
      await rm(large.path);

      const cpRate = mbps(large.size, cpSeconds);
      const upRate = mbps(large.size, uploadSeconds);
      const downRate = mbps(large.size, downloadSeconds);
      p7Ok =
        upRate >= 0.5 * cpRate && downRate >= 0.5 * cpRate && uploadRss < 64 && downloadRss < 64;
      failed ||= !p7Ok;
      rows.push(
        ['P7', '`cp` of the file (baseline)', `${cpRate.toFixed(0)} MiB/s`, '', ''],
        ['P7', '`dd bs=1M` of the file', `${mbps(large.size, ddSeconds).toFixed(0)} MiB/s`, '', ''],
        [
          'P7',
          'upload through the API',
          `${upRate.toFixed(0)} MiB/s`,
          `${((upRate / cpRate) * 100).toFixed(0)} % of cp`,
          `RSS +${uploadRss.toFixed(1)} MiB`,
        ],
        [
          'P7',
          'download through the API',
          `${downRate.toFixed(0)} MiB/s`,
          `${((downRate / cpRate) * 100).toFixed(0)} % of cp`,
          `RSS +${downloadRss.toFixed(1)} MiB`,
        ],
      );
    }

    // ---------------------------------------------------------------- P8
    if (ONLY !== 'p7') {
      console.log(`P8: uploading ${P8_FILES} files of ${(P8_FILE_BYTES / MiB).toFixed(1)} MiB`);
      const p8Case = await caseOf('P8');
      const seed = randomBytes(P8_FILE_BYTES);
      const ids: string[] = [];
      for (let i = 0; i < P8_FILES; i++) {
        const body = Buffer.from(seed);
        wavHeader(P8_FILE_BYTES - 44).copy(body, 0);
        body.writeUInt32LE(i, 64);
        const response = await uploadAudio(fakeApp, auth, p8Case, { content: body });
        if (response.status !== 201) throw new Error(`P8 upload ${i}: ${response.status}`);
        ids.push(response.body.id as string);
      }
      const total = P8_FILES * P8_FILE_BYTES;
      const client = dataSource;
      const retention = app.get<Queue<RetentionJobData>>(getQueueToken(QueueName.Retention));
      let progressSeen = false;

      /** Seconds until every P8 file is (or is no longer) archived. */
      const untilAll = async (
        archived: boolean,
        began: number,
        lastJob: () => Promise<unknown>,
      ) => {
        for (;;) {
          const [row] = await client.query<{ n: number }[]>(
            'SELECT count(*)::int AS n FROM audio_files WHERE case_id = $1 AND is_archived = $2',
            [p8Case, archived],
          );
          progressSeen ||= Number(await lastJob()) > 0;
          if (row!.n === P8_FILES) return (performance.now() - began) / 1000;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      /** One request per file, one after another, as a client would send them. */
      const requestAll = async (action: 'archive' | 'restore'): Promise<number> => {
        const began = performance.now();
        let lastJobId = '';
        for (const audioId of ids) {
          const body = action === 'archive' ? { reason: 'P8' } : undefined;
          const accepted = await call('POST', `/audio/${audioId}/${action}`, auth, body);
          if (accepted.status !== 202) throw new Error(`P8 ${action}: ${accepted.status}`);
          lastJobId = accepted.body.jobId as string;
        }
        const answered = (performance.now() - began) / 1000;
        const seconds = await untilAll(
          action === 'archive',
          began,
          async () => (await call('GET', `/jobs/${lastJobId}`, auth)).body.progress,
        );
        console.log(
          `P8 ${action} requests: answered after ${answered.toFixed(2)} s, done after ${seconds.toFixed(2)} s`,
        );
        return seconds;
      };
      /** The nightly retention job, over the P8 case closed long enough ago. */
      const sweepAll = async (): Promise<number> => {
        await client.query(
          `UPDATE cases SET status = 'closed', closed_at = now() - interval '10 years' WHERE id = $1`,
          [p8Case],
        );
        const began = performance.now();
        const sweep = await retention.add(RetentionJobName.Sweep, { requestedBy: null });
        const seconds = await untilAll(
          true,
          began,
          async () => (await retention.getJob(sweep.id!))?.progress,
        );
        await client.query(`UPDATE cases SET status = 'active', closed_at = NULL WHERE id = $1`, [
          p8Case,
        ]);
        return seconds;
      };

      const baselineSeconds: number[] = [];
      const requestSeconds: number[] = [];
      const sweepSeconds: number[] = [];
      for (let round = 1; round <= P8_ROUNDS; round++) {
        const stored = ids.map((audioId) =>
          join(dir, 'storage', 'cases', p8Case, `${audioId}.wav`),
        );
        const baselineDir = join(dir, 'baseline');
        await mkdir(baselineDir);
        // Same files, same disk: copy then hash the copies, as archive copies then verifies.
        const cpAll = time('cp', ['-t', baselineDir, ...stored]);
        const hashAll = time(
          'sha256sum',
          stored.map((p) => join(baselineDir, p.split('/').pop()!)),
        );
        await rm(baselineDir, { recursive: true });
        baselineSeconds.push(cpAll + hashAll);
        requestSeconds.push(await requestAll('archive'));
        await requestAll('restore');
        sweepSeconds.push(await sweepAll());
        if (round < P8_ROUNDS) await requestAll('restore');
        console.log(
          `P8 round ${round}: baseline ${(cpAll + hashAll).toFixed(2)} s, requests ${requestSeconds[round - 1]!.toFixed(2)} s, sweep ${sweepSeconds[round - 1]!.toFixed(2)} s`,
        );
      }
      const ratio = (measured: number[]) =>
        median(baselineSeconds.map((seconds, i) => seconds / measured[i]!));
      p8Ok = ratio(sweepSeconds) >= 0.8 && progressSeen;
      failed ||= !p8Ok;
      const seconds = (values: number[]) => values.map((v) => v.toFixed(2)).join(', ');
      const measuredRow = (workload: string, measured: number[]) => [
        'P8',
        workload,
        `${mbps(total, median(measured)).toFixed(0)} MiB/s`,
        `${(ratio(measured) * 100).toFixed(0)} % of baseline`,
        `${seconds(measured)} s`,
      ];
      rows.push(
        [
          'P8',
          `\`cp\` + \`sha256sum\` of ${P8_FILES} files (baseline)`,
          `${mbps(total, median(baselineSeconds)).toFixed(0)} MiB/s`,
          '',
          `${seconds(baselineSeconds)} s`,
        ],
        measuredRow(
          `retention job archiving the ${P8_FILES} files (copy → verify → delete → row)`,
          sweepSeconds,
        ),
        measuredRow(`${P8_FILES} \`POST /audio/:id/archive\`, one after another`, requestSeconds),
      );
    }
  });
  console.log(table(rows));
  if (ONLY) console.log('BENCH_ONLY is set: BENCHMARKS.md left as it is.');
  else await writeSection(rows, { p7Ok, p8Ok });
  process.exit(failed ? 1 : 0);
}

function table(rows: string[][]): string {
  return [
    '| target | workload | throughput | vs baseline | notes |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

async function writeSection(
  rows: string[][],
  verdict: { p7Ok: boolean; p8Ok: boolean },
): Promise<void> {
  const file = join(__dirname, '..', 'BENCHMARKS.md');
  const section = [
    '## Storage (P7, P8)',
    '',
    `Command: \`BENCH_P7_BYTES=${P7_BYTES} BENCH_P8_FILES=${P8_FILES} BENCH_P8_FILE_BYTES=${P8_FILE_BYTES} BENCH_P8_ROUNDS=${P8_ROUNDS} npm run bench:storage\``,
    `(run ${new Date().toISOString()}, Node ${process.version}, local driver, app with in-process workers in one process, curl as the P7 client, loopback, same disk for app and baselines).`,
    '',
    table(rows),
    '',
    `P7 ${verdict.p7Ok ? 'met' : 'MISSED'} (≥ 50 % of cp, RSS growth < 64 MiB); P8 ${verdict.p8Ok ? 'met' : 'MISSED'} (≥ 80 % of cp + sha256sum, progress reported).`,
    'The P8 baseline copies the files and hashes the copies, which is what an archive does',
    '(copy, then verify the copy); the archive also deletes the original and updates and audits',
    'each row, with 4 jobs in flight whose row updates and audit entries commit together.',
    'P8 is judged on the retention job (one job that archives all the files, progress reported);',
    'the 1,000 one-after-another POSTs are paced by the request round trip, not by the archive.',
    'Each round runs baseline, POSTs and retention job back to back; medians of the rounds.',
    'Page cache is warm for both sides; other benchmarks may share the machine.',
    '',
  ].join('\n');
  const current = existsSync(file) ? await readFile(file, 'utf8') : '# Benchmarks\n\n';
  const start = current.indexOf('## Storage (P7, P8)');
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    const after = current.indexOf('\n## ', start + 1);
    next = current.slice(0, start) + section + (after === -1 ? '' : current.slice(after + 1));
  }
  await writeFile(file, next.endsWith('\n') ? next : `${next}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
