// Request latency of the real server holding N waiting jobs (default 1M) while
// it writes a snapshot of them, against the same load with no snapshot.
//
// Load: `--clients` closed-loop keep-alive clients, each alternating a small
// buffered push and a GET /jobs/<id> of one of the built jobs.
//  - baseline: SNAPSHOT_INTERVAL_MS=600000; latency of the requests started in
//    [listening + 1 s, listening + 1 s + `--seconds`].
//  - snapshot: SNAPSHOT_INTERVAL_MS=`--interval`, so the first snapshot starts
//    ~`--interval` ms after recovery, under load; the load runs until the
//    server logs "snapshot written". Latency of the requests started inside the
//    snapshot ([time − ms, time] of that line), and of those before it.
// Every run starts from a fresh copy of one built data directory (a full
// replay of its log, or with `--from-snapshot 1` a restore from a snapshot
// taken once beforehand), and is stopped with SIGKILL: its directory is thrown
// away, so the ~15 s shutdown snapshot of a SIGTERM would be wasted time.
//
//   node --import tsx bench/snapshot-latency.ts [--jobs 1000000] [--runs 3] [--clients 8] [--seconds 5] [--interval 5000] [--from-snapshot 0]
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildJobs } from './buildJobs.ts';
import { collectGarbage, httpRequest, loadAverage, median, parseArgs, percentile, startServer, type ServerProcess } from './serverProcess.ts';

const args = parseArgs({ jobs: 1_000_000, queues: 10, runs: 3, clients: 8, seconds: 5, interval: 5000, 'from-snapshot': 0 });
const START_TIMEOUT_MS = 180_000;
const WARMUP_MS = 1000;
/** Longest the load waits for the first snapshot to be written. */
const SNAPSHOT_WAIT_MS = args.interval + 180_000;

interface Sample {
  /** ms since the epoch (same clock as the server's log `time`). */
  start: number;
  ms: number;
}

interface Stats {
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

function statsOf(samples: Sample[], from: number, to: number): Stats {
  const inside = samples.filter((s) => s.start >= from && s.start < to).map((s) => s.ms);
  inside.sort((a, b) => a - b);
  if (inside.length === 0) throw new Error(`no request started in the window (${Math.round(to - from)} ms)`);
  return {
    count: inside.length,
    perSecond: inside.length / ((to - from) / 1000),
    p50: percentile(inside, 0.5),
    p99: percentile(inside, 0.99),
    max: inside[inside.length - 1],
  };
}

const fmt = (s: Stats) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(1)} ms (${s.count} requests, ${Math.round(s.perSecond)}/s)`;

/** Closed-loop load until `until` resolves; every request's start and latency. */
async function load(server: ServerProcess, jobIds: string[], until: Promise<unknown>): Promise<Sample[]> {
  const samples: Sample[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: args.clients });
  let stop = false;
  const stopIt = () => {
    stop = true;
  };
  until.then(stopIt, stopIt);
  let n = 0;
  const client = async (c: number) => {
    for (let i = 0; !stop; i++) {
      const push = (i + c) % 2 === 0;
      const started = performance.now();
      const answer = push
        ? await httpRequest(agent, server.port, 'POST', '/queues/latency/jobs', JSON.stringify({ data: { to: 'someone@example.com', n: n++ } }))
        : await httpRequest(agent, server.port, 'GET', `/jobs/${jobIds[(i * 7919 + c) % jobIds.length]}`);
      const ms = performance.now() - started;
      if (answer.status !== 200) throw new Error(`${push ? 'push' : 'GET /jobs/:id'} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
      samples.push({ start: performance.timeOrigin + started, ms });
    }
  };
  try {
    await Promise.all(Array.from({ length: args.clients }, (_, c) => client(c)));
  } finally {
    agent.destroy();
  }
  return samples;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface BaselineRun {
  window: Stats;
  peakRssMiB: number;
  recoveryMs: number;
}

interface SnapshotRun {
  before: Stats;
  during: Stats;
  snapshotMs: number;
  snapshotJobs: number;
  peakRssMiB: number;
  recoveryMs: number;
}

async function withServer<T>(pristine: string, intervalMs: number, body: (server: ServerProcess, listeningAt: number) => Promise<T>): Promise<T> {
  const runDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-snaplat-run-'));
  try {
    cpSync(pristine, runDir, { recursive: true });
    const server = await startServer(runDir, { SNAPSHOT_INTERVAL_MS: String(intervalMs) }, START_TIMEOUT_MS);
    try {
      const listening = await server.waitForLine((line) => line.msg === 'listening', 1000);
      return await body(server, listening.time);
    } finally {
      await server.stop('SIGKILL', 30_000);
    }
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function recoveryMs(server: ServerProcess): Promise<number> {
  return Number((await server.waitForLine((line) => line.msg.startsWith('state recovered'), 1000)).ms);
}

async function baselineRun(pristine: string, jobIds: string[]): Promise<BaselineRun> {
  return withServer(pristine, 600_000, async (server, listeningAt) => {
    const from = listeningAt + WARMUP_MS;
    const to = from + args.seconds * 1000;
    const samples = await load(server, jobIds, sleep(to - Date.now()));
    const snapshot = server.lines.find((line) => line.msg === 'snapshot written');
    if (snapshot) throw new Error('baseline: a snapshot was written during the measurement');
    return { window: statsOf(samples, from, to), peakRssMiB: server.memory().hwmMiB, recoveryMs: await recoveryMs(server) };
  });
}

async function snapshotRun(pristine: string, jobIds: string[]): Promise<SnapshotRun> {
  return withServer(pristine, args.interval, async (server, listeningAt) => {
    const written = server.waitForLine((line) => line.msg === 'snapshot written' || line.msg.startsWith('snapshot failed'), SNAPSHOT_WAIT_MS);
    const samples = await load(server, jobIds, written.then(() => sleep(200)));
    const line = await written;
    if (line.msg !== 'snapshot written') throw new Error(`snapshot run: ${JSON.stringify(line)}`);
    const snapshotMs = Number(line.ms);
    const snapshotStart = line.time - snapshotMs;
    if (snapshotStart < listeningAt + WARMUP_MS + 500) throw new Error(`the snapshot started ${snapshotStart - listeningAt} ms after listening: raise --interval`);
    return {
      before: statsOf(samples, listeningAt + WARMUP_MS, snapshotStart),
      during: statsOf(samples, snapshotStart, line.time),
      snapshotMs,
      snapshotJobs: Number(line.jobs),
      peakRssMiB: server.memory().hwmMiB,
      recoveryMs: await recoveryMs(server),
    };
  });
}

console.log(
  `command: node --import tsx bench/snapshot-latency.ts --jobs ${args.jobs} --queues ${args.queues} --runs ${args.runs} --clients ${args.clients} ` +
    `--seconds ${args.seconds} --interval ${args.interval} --from-snapshot ${args['from-snapshot']}  (load average 1/5/15 min at start: ${loadAverage()})`,
);
const pristine = mkdtempSync(join(tmpdir(), 'ledgerq-bench-snaplat-'));
try {
  const built = await buildJobs(pristine, { jobs: args.jobs, queues: args.queues });
  const jobIds = [...built.firstIds.values()].flat();
  collectGarbage();
  console.log(`built ${built.jobs.toLocaleString('en')} waiting jobs in ${built.queues.length} queues in-process in ${(built.ms / 1000).toFixed(1)} s`);
  if (args['from-snapshot']) {
    // One change, then SIGTERM: the server writes the snapshot every run then restores from.
    const server = await startServer(pristine, {}, START_TIMEOUT_MS);
    const agent = new Agent({ keepAlive: false });
    await httpRequest(agent, server.port, 'POST', '/queues/latency/jobs', '{"data":0}');
    const stopped = await server.stop('SIGTERM', 180_000);
    const line = server.lines.find((l) => l.msg === 'snapshot written');
    if (stopped.code !== 0 || !line) throw new Error(`preparing the snapshot failed: ${JSON.stringify(stopped)}`);
    console.log(`prepared a snapshot of ${line.jobs} jobs (${line.ms} ms); every run restores from it`);
  }

  const baselines: BaselineRun[] = [];
  const snapshots: SnapshotRun[] = [];
  for (let run = 1; run <= args.runs; run++) {
    const base = await baselineRun(pristine, jobIds);
    baselines.push(base);
    console.log(`run ${run} baseline (no snapshot):  ${fmt(base.window)} | recovery ${base.recoveryMs} ms, server peak RSS ${Math.round(base.peakRssMiB)} MiB`);
    const snap = await snapshotRun(pristine, jobIds);
    snapshots.push(snap);
    console.log(
      `run ${run} during the snapshot:   ${fmt(snap.during)} | snapshot of ${snap.snapshotJobs} jobs took ${snap.snapshotMs} ms, server peak RSS ${Math.round(snap.peakRssMiB)} MiB\n` +
        `run ${run}   (same server before: ${fmt(snap.before)})`,
    );
  }

  const baseP50 = median(baselines.map((b) => b.window.p50));
  const baseP99 = median(baselines.map((b) => b.window.p99));
  const duringP50 = median(snapshots.map((s) => s.during.p50));
  const duringP99 = median(snapshots.map((s) => s.during.p99));
  console.log(`\nsummary (medians of ${args.runs} runs, ${args.clients} clients, push + GET /jobs/:id)`);
  console.log(`  baseline:         p50 ${baseP50.toFixed(2)} ms, p99 ${baseP99.toFixed(2)} ms, max ${median(baselines.map((b) => b.window.max)).toFixed(1)} ms, ${Math.round(median(baselines.map((b) => b.window.perSecond)))} req/s`);
  console.log(`  during snapshot:  p50 ${duringP50.toFixed(2)} ms, p99 ${duringP99.toFixed(2)} ms, max ${median(snapshots.map((s) => s.during.max)).toFixed(1)} ms, ${Math.round(median(snapshots.map((s) => s.during.perSecond)))} req/s`);
  console.log(`  p99 ratio during/baseline: ${(duringP99 / baseP99).toFixed(2)}× (target ≤ 2×); p50 ratio ${(duringP50 / baseP50).toFixed(2)}×`);
  console.log(`  snapshot duration: ${median(snapshots.map((s) => s.snapshotMs))} ms (runs: ${snapshots.map((s) => s.snapshotMs).join(', ')})`);
  console.log(`  server peak RSS: baseline ${Math.round(median(baselines.map((b) => b.peakRssMiB)))} MiB, with the snapshot ${Math.round(median(snapshots.map((s) => s.peakRssMiB)))} MiB`);
} finally {
  rmSync(pristine, { recursive: true, force: true });
  console.log(`load average 1/5/15 min at end: ${loadAverage()}`);
}
