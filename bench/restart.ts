// Restart time and memory of the real server holding N waiting jobs (default 1M):
//  (a) full replay of the log (no snapshot), twice: once stopped idle (shows
//      whether SIGTERM writes a snapshot when nothing changed since the start),
//      once after a pull (SIGTERM must write the snapshot);
//  (b) restart from the snapshot written by the previous SIGTERM, `--runs` times
//      (each run pulls one job, so each SIGTERM writes a fresh snapshot).
// Every start is checked: a pull returns the first job of a queue (FIFO) and
// GET /jobs/<id> returns the last job pushed, as it was built.
//
//   node --import tsx bench/restart.ts [--jobs 1000000] [--queues 10] [--runs 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { buildJobs, type BuiltJobs } from './buildJobs.ts';
import { httpRequest, loadAverage, median, parseArgs, startServer, type LogLine, type ServerProcess } from './serverProcess.ts';

const args = parseArgs({ jobs: 1_000_000, queues: 10, runs: 3 });
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 180_000;

interface StartResult {
  label: string;
  spawnToListeningMs: number;
  recovered: LogLine;
  rssMiB: number;
  hwmMiB: number;
  stopMs: number;
  stopPeakRssMiB: number;
  snapshot: LogLine | undefined;
}

const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const fmtMiB = (mib: number) => `${Math.round(mib).toLocaleString('en')} MiB`;

async function checkState(server: ServerProcess, built: BuiltJobs, queueIndex: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const queue = built.queues[queueIndex % built.queues.length];
    const expected = (built.firstIds.get(queue) as string[])[0];
    const pulled = await httpRequest(agent, server.port, 'GET', `/queues/${queue}/jobs`);
    const pulledJob = JSON.parse(pulled.body).job;
    if (pulled.status !== 200 || pulledJob?.id !== expected) {
      throw new Error(`pull from ${queue}: expected job ${expected}, got ${pulled.status} ${pulled.body.slice(0, 200)}`);
    }
    const got = await httpRequest(agent, server.port, 'GET', `/jobs/${built.last.id}`);
    const job = JSON.parse(got.body).job;
    if (got.status !== 200 || job?.state !== 'waiting' || job.queue !== built.last.queue || !isDeepStrictEqual(job.data, built.last.data)) {
      throw new Error(`GET /jobs/${built.last.id}: unexpected ${got.status} ${got.body.slice(0, 300)}`);
    }
  } finally {
    agent.destroy();
  }
}

async function startAndStop(label: string, dataDir: string, check: (server: ServerProcess) => Promise<void> | undefined): Promise<StartResult> {
  const server = await startServer(dataDir, {}, START_TIMEOUT_MS);
  try {
    const { rssMiB, hwmMiB } = server.memory();
    const recovered = await server.waitForLine((line) => line.msg.startsWith('state recovered'), 1000);
    await check(server);
    let stopPeakRssMiB = 0;
    const sample = () => {
      try {
        // A process that exited but was not reaped yet has no VmRSS (NaN).
        const { rssMiB } = server.memory();
        if (Number.isFinite(rssMiB)) stopPeakRssMiB = Math.max(stopPeakRssMiB, rssMiB);
      } catch {
        // exited between the tick and the read
      }
    };
    sample();
    const stopped = await server.stop('SIGTERM', STOP_TIMEOUT_MS, sample);
    if (stopped.code !== 0) throw new Error(`${label}: server exited with ${JSON.stringify(stopped)} after SIGTERM`);
    const snapshot = server.lines.find((line) => line.msg === 'snapshot written');
    const failed = server.lines.find((line) => line.msg.startsWith('snapshot failed'));
    if (failed) throw new Error(`${label}: ${JSON.stringify(failed)}`);
    const result = { label, spawnToListeningMs: server.spawnToListeningMs, recovered, rssMiB, hwmMiB, stopMs: stopped.ms, stopPeakRssMiB, snapshot };
    console.log(
      `${label.padEnd(28)} spawn→listening ${fmtS(result.spawnToListeningMs)} | recovered: ms ${recovered.ms}, entries ${recovered.entries}, ` +
        `jobs ${recovered.jobs}, snapshot ${recovered.snapshot} | RSS at listening ${fmtMiB(rssMiB)} (peak ${fmtMiB(hwmMiB)}) | ` +
        `SIGTERM→exit 0 in ${fmtS(stopped.ms)}, peak RSS meanwhile ${fmtMiB(stopPeakRssMiB)}, ` +
        (snapshot ? `snapshot written: position ${snapshot.position}, ${snapshot.jobs} jobs, ${fmtMiB(Number(snapshot.bytes) / 2 ** 20)}, ${snapshot.ms} ms` : 'no snapshot written'),
    );
    return result;
  } catch (error) {
    await server.stop('SIGKILL', 10_000).catch(() => undefined);
    throw error;
  }
}

console.log(
  `command: node --import tsx bench/restart.ts --jobs ${args.jobs} --queues ${args.queues} --runs ${args.runs}` +
    `  (load average 1/5/15 min at start: ${loadAverage()})`,
);
const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-restart-'));
try {
  const built = await buildJobs(dataDir, { jobs: args.jobs, queues: args.queues });
  console.log(
    `built ${built.jobs.toLocaleString('en')} waiting jobs (~100-byte data) in ${built.queues.length} queues in-process: ` +
      `${fmtMiB(built.walBytes / 2 ** 20)} of log in ${fmtS(built.ms)}`,
  );

  // (a) full replay, twice: the idle stop must still snapshot what the replay rebuilt; it is removed before the second.
  const idle = await startAndStop('(a) full replay, idle stop', dataDir, () => undefined);
  if (idle.recovered.snapshot !== null) throw new Error('expected a full replay (no snapshot yet)');
  if (!idle.snapshot) throw new Error('SIGTERM after a full replay wrote no snapshot');
  rmSync(join(dataDir, 'snapshots'), { recursive: true, force: true });
  const replay = await startAndStop('(a) full replay, pull, stop', dataDir, (server) => checkState(server, built, 0));
  if (replay.recovered.snapshot !== null) throw new Error('expected a full replay after removing the snapshots');
  if (!replay.snapshot) throw new Error('SIGTERM after a pull wrote no snapshot');

  // (b) restart from the snapshot the previous SIGTERM wrote.
  const restores: StartResult[] = [];
  for (let run = 1; run <= args.runs; run++) {
    const result = await startAndStop(`(b) snapshot restore #${run}`, dataDir, (server) => checkState(server, built, run));
    if (result.recovered.snapshot === null || result.recovered.entries !== 0) {
      throw new Error(`run ${run}: expected a restore from the snapshot with 0 entries to replay, got ${JSON.stringify(result.recovered)}`);
    }
    restores.push(result);
  }

  const replays = [idle, replay];
  const stops = [replay, ...restores];
  console.log('\nsummary (medians; full replay over its 2 starts, restore over its runs, SIGTERM-with-snapshot over every stop that wrote one)');
  console.log(`  full replay:        spawn→listening ${fmtS(median(replays.map((r) => r.spawnToListeningMs)))}, server's recovery ms ${median(replays.map((r) => Number(r.recovered.ms)))}, RSS at listening ${fmtMiB(median(replays.map((r) => r.rssMiB)))}`);
  console.log(`  snapshot restore:   spawn→listening ${fmtS(median(restores.map((r) => r.spawnToListeningMs)))} (target < 5 s), server's recovery ms ${median(restores.map((r) => Number(r.recovered.ms)))}, RSS at listening ${fmtMiB(median(restores.map((r) => r.rssMiB)))} (target < 1024 MiB)`);
  console.log(`  SIGTERM with snapshot: ${fmtS(median(stops.map((r) => r.stopMs)))} to exit 0; snapshot write ${median(stops.map((r) => Number(r.snapshot?.ms)))} ms; peak RSS while stopping ${fmtMiB(median(stops.map((r) => r.stopPeakRssMiB)))}`);
  console.log(`  SIGTERM idle after full replay: ${fmtS(idle.stopMs)}, ${idle.snapshot ? 'wrote a snapshot' : 'wrote NO snapshot (the next start replays the whole log again)'}`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  console.log(`load average 1/5/15 min at end: ${loadAverage()}`);
}
