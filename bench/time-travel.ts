// Point-in-time reads: figures for issue 10.
//
//  A. In process: the time index over `--entries` entries (default 10M): memory,
//     and the time of a lookup (time → position, position → time).
//  B. A real server on a data directory built in process: `--jobs` pushes
//     (default 100 000) to one queue, then as many entries of work (pull + ack
//     of half of them), with a snapshot every `--every` entries, as
//     SNAPSHOT_EVERY_ENTRIES would take them. Then, over HTTP:
//       - GET /log/position?at=<random time> latency;
//       - GET /queues/q0/state?position=<random> (100 000 jobs live then): rebuild time;
//       - GET /queues/q0/changes over the whole log: entries scanned per second;
//       - live request latency (GET /jobs/:id + push, `--clients` closed-loop
//         clients) alone and while one client keeps asking for states.
//
//   node --import tsx bench/time-travel.ts [--entries 10000000] [--jobs 100000] [--every 100000] [--states 20] [--clients 4] [--seconds 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideAck } from '../src/domain/decideAck.ts';
import { decidePull } from '../src/domain/decidePull.ts';
import { decidePush } from '../src/domain/decidePush.ts';
import { parsePushOptions } from '../src/domain/pushOptions.ts';
import { SegmentedLog } from '../src/log/SegmentedLog.ts';
import { EventBus } from '../src/projections/EventBus.ts';
import { QueueProjection } from '../src/projections/QueueProjection.ts';
import { SnapshotStore } from '../src/projections/SnapshotStore.ts';
import { TimeIndex } from '../src/projections/TimeIndex.ts';
import { commandContext } from '../src/commands/CommandContext.ts';
import { Ledger } from '../src/commands/Ledger.ts';
import { jobData } from './buildJobs.ts';
import { httpRequest, parseArgs, percentile, startServer } from './serverProcess.ts';

const args = parseArgs({ entries: 10_000_000, jobs: 100_000, every: 100_000, states: 20, clients: 4, seconds: 5 });

const ms = (x: number) => x.toFixed(3);
const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 0.5))} ms, p95 ${ms(percentile(sorted, 0.95))} ms, p99 ${ms(percentile(sorted, 0.99))} ms, max ${ms(sorted[sorted.length - 1])} ms (n=${xs.length})`;
};

// ---- A. the index alone ----
{
  const index = new TimeIndex();
  let t = 1_764_000_000_000;
  const started = performance.now();
  for (let p = 1; p <= args.entries; p++) {
    // ~10 000 entries a second with pauses: a busy server's log.
    t += p % 10 === 0 ? 1 : 0;
    if (p % 1_000_000 === 0) t += 60_000;
    index.note(p, t);
  }
  const noteMs = performance.now() - started;
  const range = index.range()!;
  const lookups = 200_000;
  let sink = 0;
  const lookStart = performance.now();
  for (let i = 0; i < lookups; i++) {
    const at = range.first.time + Math.floor(Math.random() * (range.last.time - range.first.time));
    const position = index.firstAtOrAfter(at) as number;
    sink += index.timeOf(position);
  }
  const perLookup = ((performance.now() - lookStart) / lookups) * 1000;
  console.log(
    `A. time index, ${args.entries.toLocaleString('en')} entries: ${(index.bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `built in ${(noteMs / 1000).toFixed(2)} s, lookup (time → position → time) ${perLookup.toFixed(2)} µs${sink === 0 ? '' : ''}`,
  );
}

// ---- B. a server ----
const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-timetravel-'));
try {
  const built = performance.now();
  const log = await SegmentedLog.open({ dir: join(dataDir, 'wal') });
  const store = await SnapshotStore.open(join(dataDir, 'snapshots'));
  const ledger = new Ledger(log, new QueueProjection(), new EventBus());
  const context = commandContext(3_600_000);
  const ids: string[] = [];
  let lastSnapshot = 0;
  const snapshotIfDue = async () => {
    if (ledger.state.position - lastSnapshot < args.every) return;
    await log.flush();
    const { header, records } = ledger.state.snapshot();
    await store.write(header.position, Date.now(), header, records);
    lastSnapshot = header.position;
  };
  for (let i = 0; i < args.jobs; i++) {
    const parsed = parsePushOptions({ data: jobData(i) });
    if (!parsed.ok) throw new Error(parsed.error);
    const outcome = ledger.run((view) => decidePush(view, 'q0', parsed.value, context()));
    if (!outcome.ok) throw new Error(outcome.error.message);
    ids.push(outcome.result.id);
    await snapshotIfDue();
  }
  for (let i = 0; i < args.jobs / 2; i++) {
    const pulled = ledger.run((view) => decidePull(view, 'q0', context()));
    if (!pulled.ok || pulled.result === null) throw new Error('pull failed');
    const { jobId, token } = pulled.result;
    const acked = ledger.run((view) => decideAck(view, jobId, token, null, context()));
    if (!acked.ok) throw new Error(acked.error.message);
    await snapshotIfDue();
  }
  await log.close();
  await store.close();
  const entries = args.jobs * 2;
  console.log(`B. built ${entries.toLocaleString('en')} entries (${args.jobs.toLocaleString('en')} jobs, one queue), a snapshot every ${args.every.toLocaleString('en')}, in ${((performance.now() - built) / 1000).toFixed(1)} s`);

  const server = await startServer(dataDir, { SNAPSHOT_INTERVAL_MS: '3600000', SNAPSHOT_EVERY_ENTRIES: String(10 * entries), COMPLETED_MAX: String(10 * entries) }, 120_000);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const get = async (path: string) => {
    const answer = await httpRequest(agent, server.port, 'GET', path);
    if (answer.status !== 200) throw new Error(`GET ${path} → ${answer.status} ${answer.body.slice(0, 300)}`);
    return JSON.parse(answer.body);
  };
  // Both indexes are built in the background at start: wait for them, so their work is not measured as latency.
  await server.waitForLine((line) => line.msg === 'job index caught up with the log', 120_000);
  let range: any;
  for (;;) {
    const answer = await httpRequest(agent, server.port, 'GET', '/log/position?at=0');
    const body = JSON.parse(answer.body);
    if (body.first) {
      range = body;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const positionTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const at = range.first.time + Math.floor(Math.random() * (range.last.time - range.first.time));
    const started = performance.now();
    await get(`/log/position?at=${at}`);
    positionTimes.push(performance.now() - started);
  }
  console.log(`   GET /log/position?at=<random>: ${stats(positionTimes)} (client side, HTTP included)`);

  // Positions from the end of the pushes on: 100 000 jobs live then. Random order, so the cache rarely helps.
  const statePositions = Array.from({ length: args.states }, () => args.jobs + 1 + Math.floor(Math.random() * (entries - args.jobs)));
  const stateTimes: number[] = [];
  for (const position of statePositions) {
    const started = performance.now();
    const page = await get(`/queues/q0/state?position=${position}&limit=100`);
    stateTimes.push(performance.now() - started);
    const live = Object.values(page.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    if (live !== args.jobs) throw new Error(`expected ${args.jobs} jobs live at ${position}, got ${live}`);
  }
  console.log(`   GET /queues/q0/state?position=<random, ${args.jobs.toLocaleString('en')} jobs live>: ${stats(stateTimes)}`);

  const scanStarted = performance.now();
  let cursor: string | null = null;
  let changes = 0;
  const first = await get(`/queues/q0/changes?from=${range.first.time}&to=${range.last.time}&limit=10000`);
  changes += first.changes.length;
  cursor = first.nextCursor;
  const window = first.window;
  while (cursor !== null) {
    const page = await get(`/queues/q0/changes?cursor=${cursor}&limit=10000`);
    changes += page.changes.length;
    cursor = page.nextCursor;
  }
  const scanSeconds = (performance.now() - scanStarted) / 1000;
  console.log(
    `   GET /queues/q0/changes over ${(window.to - window.after).toLocaleString('en')} entries: ${changes.toLocaleString('en')} changes in ${scanSeconds.toFixed(2)} s ` +
      `= ${Math.round((window.to - window.after) / scanSeconds).toLocaleString('en')} entries/s (rebuild at the window start included)`,
  );

  const liveLoad = async (withTimeTravel: boolean) => {
    const deadline = performance.now() + args.seconds * 1000;
    const latencies: number[] = [];
    let queries = 0;
    const client = async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        await get(`/jobs/${ids[Math.floor(Math.random() * ids.length)]}`);
        latencies.push(performance.now() - started);
        const pushStarted = performance.now();
        const pushed = await httpRequest(agent, server.port, 'POST', '/queues/live/jobs', JSON.stringify({ data: { n: 1 } }));
        if (pushed.status !== 200) throw new Error(`push → ${pushed.status}`);
        latencies.push(performance.now() - pushStarted);
      }
    };
    const timeTraveller = async () => {
      while (performance.now() < deadline) {
        const position = args.jobs + 1 + Math.floor(Math.random() * (entries - args.jobs));
        await get(`/queues/q0/state?position=${position}&limit=100`);
        queries++;
      }
    };
    await Promise.all([...Array.from({ length: args.clients }, client), ...(withTimeTravel ? [timeTraveller()] : [])]);
    return { latencies, queries };
  };
  const baseline = await liveLoad(false);
  const loaded = await liveLoad(true);
  const p99 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.99);
  console.log(`   live GET /jobs/:id + push, ${args.clients} clients, alone: ${stats(baseline.latencies)}`);
  console.log(`   the same while states are rebuilt (${loaded.queries} state queries): ${stats(loaded.latencies)}; p99 ratio ${(p99(loaded.latencies) / p99(baseline.latencies)).toFixed(2)}`);
  agent.destroy();
  await server.stop('SIGKILL', 10_000);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
