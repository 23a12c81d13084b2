// Job history on a big log: builds a log of `--entries` entries in-process
// (jobs pushed, pulled, some reporting progress, acked, and evicted by
// retention as the server would: most jobs are gone from memory), starts the
// real server on it, waits for the job id index to catch up (timed), then
// asks GET /jobs/:id/history and /attempts for random jobs, one at a time,
// and reports p50/p99, the index's size on disk against the log's, and the
// server's memory.
//
//   node --import tsx bench/history.ts [--entries 1000000] [--samples 2000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decideAck } from '../src/domain/decideAck.ts';
import { decideDue } from '../src/domain/decideDue.ts';
import { decideProgress } from '../src/domain/decideProgress.ts';
import { decidePull } from '../src/domain/decidePull.ts';
import { decidePush } from '../src/domain/decidePush.ts';
import { parsePushOptions } from '../src/domain/pushOptions.ts';
import { SegmentedLog } from '../src/log/SegmentedLog.ts';
import { EventBus } from '../src/projections/EventBus.ts';
import { QueueProjection } from '../src/projections/QueueProjection.ts';
import { commandContext } from '../src/commands/CommandContext.ts';
import { Ledger } from '../src/commands/Ledger.ts';
import { jobData } from './buildJobs.ts';
import { collectGarbage, httpRequest, loadAverage, parseArgs, percentile, startServer } from './serverProcess.ts';

const QUEUES = 10;
const KEEP_COMPLETED = 10_000;

function must<T>(outcome: { ok: true; result: T } | { ok: false; error: Error }, what: string): T {
  if (!outcome.ok) throw new Error(`${what}: ${outcome.error.message}`);
  return outcome.result;
}

/** A log of about `entries` entries of jobs pushed, pulled, some with progress, acked, mostly evicted. */
export async function buildLog(dataDir: string, entries: number): Promise<{ ids: string[]; ms: number }> {
  const started = performance.now();
  const log = await SegmentedLog.open({ dir: join(dataDir, 'wal') });
  const ledger = new Ledger(log, new QueueProjection(), new EventBus());
  const retention = { completedMs: Infinity, completedMax: KEEP_COMPLETED, failedMs: Infinity, failedMax: KEEP_COMPLETED };
  const context = commandContext(30_000, retention);
  const ids: string[] = [];
  try {
    for (let i = 0; log.lastPosition < entries; i++) {
      const queue = `q${i % QUEUES}`;
      const options = parsePushOptions({ data: jobData(i) });
      if (!options.ok) throw new Error(options.error);
      const id = must(ledger.run((view) => decidePush(view, queue, options.value, context())), 'push').id;
      ids.push(id);
      const pulled = must(ledger.run((view) => decidePull(view, queue, context())), 'pull');
      if (pulled === null || pulled.jobId !== id) throw new Error('pull did not return the job just pushed');
      if (i % 4 === 0) must(ledger.run((view) => decideProgress(view, id, pulled.token, 50, 'half way', context())), 'progress');
      must(ledger.run((view) => decideAck(view, id, pulled.token, { ok: i }, context())), 'ack');
      if (i % 1000 === 999) ledger.run((view) => decideDue(view, context(), 100_000));
      if (i % 50_000 === 0) await log.flush();
    }
    await log.flush();
  } finally {
    await log.close();
  }
  return { ids, ms: performance.now() - started };
}

const du = (path: string) => Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]);
const fmtMs = (ms: number) => `${ms.toFixed(2)} ms`;
const fmtMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const args = parseArgs({ entries: 1_000_000, samples: 2000 });
  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-history-'));
  try {
    const built = await buildLog(dataDir, args.entries);
    console.log(`built ${args.entries.toLocaleString('en')} entries (${built.ids.length.toLocaleString('en')} jobs) in ${(built.ms / 1000).toFixed(1)} s`);
    collectGarbage();
    const server = await startServer(dataDir, { COMPLETED_MAX: String(KEEP_COMPLETED), SNAPSHOT_INTERVAL_MS: '3600000' }, 600_000);
    const caughtUp = await server.waitForLine((line) => line.msg === 'job index caught up with the log', 1_200_000);
    const recovered = server.lines.find((line) => line.msg === 'state recovered (newest valid snapshot + log after it)');
    console.log(`server listening after ${(server.spawnToListeningMs / 1000).toFixed(1)} s; index caught up ${caughtUp.indexedThrough} entries ${((caughtUp.ms as number) / 1000).toFixed(1)} s after start (recovery took ${((recovered?.ms as number) / 1000).toFixed(1)} s)`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const measure = async (path: (id: string) => string, samples = args.samples) => {
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const id = built.ids[Math.floor(Math.random() * built.ids.length)];
        const started = performance.now();
        const answer = await httpRequest(agent, server.port, 'GET', path(id));
        times.push(performance.now() - started);
        if (answer.status !== 200) throw new Error(`${path(id)} → ${answer.status} ${answer.body}`);
        const body = JSON.parse(answer.body) as { entries?: unknown[]; attempts?: unknown[] };
        if ((body.entries ?? body.attempts ?? []).length === 0) throw new Error(`${path(id)} → nothing: ${answer.body}`);
      }
      times.sort((a, b) => a - b);
      return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: times[times.length - 1] };
    };
    // Warm-up (JIT, page cache of the log), not counted.
    await measure((id) => `/jobs/${id}/history`, 300);
    const history = await measure((id) => `/jobs/${id}/history`);
    const attempts = await measure((id) => `/jobs/${id}/attempts`);
    const memory = server.memory();
    await server.stop('SIGTERM', 120_000);
    const walBytes = du(join(dataDir, 'wal'));
    const indexBytes = du(join(dataDir, 'index'));
    console.log(`GET /jobs/:id/history, ${args.samples} random jobs (most evicted): p50 ${fmtMs(history.p50)}, p99 ${fmtMs(history.p99)}, max ${fmtMs(history.max)}`);
    console.log(`GET /jobs/:id/attempts, ${args.samples} random jobs: p50 ${fmtMs(attempts.p50)}, p99 ${fmtMs(attempts.p99)}, max ${fmtMs(attempts.max)}`);
    console.log(`index on disk ${fmtMiB(indexBytes)} = ${((100 * indexBytes) / walBytes).toFixed(1)} % of the log's ${fmtMiB(walBytes)}`);
    console.log(`server RSS ${memory.rssMiB.toFixed(0)} MiB (peak ${memory.hwmMiB.toFixed(0)} MiB); load average ${loadAverage()}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
