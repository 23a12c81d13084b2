/**
 * Write-ahead log append throughput.
 *   node --import tsx bench/log-append.ts [runs]
 * (a) buffered appends: append() with nobody waiting; the 10 ms timer flushes in the background.
 * (b) durable appends: C clients, each looping append + await sync(position).
 * Each figure is the median of `runs` runs, each in a fresh temp directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SegmentedLog } from '../src/log/SegmentedLog.ts';

const RUNS = Number(process.argv[2] ?? 5);
const PAYLOAD = Buffer.alloc(200, 0x78);

async function withLog<T>(fn: (log: SegmentedLog) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ledgerq-bench-'));
  const log = await SegmentedLog.open({ dir });
  try {
    return await fn(log);
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Appends in slices of 1000 per event-loop turn so background flushes interleave, as in the server. */
async function buffered(total: number): Promise<{ perSecond: number; drainMs: number }> {
  return withLog(async (log) => {
    const start = performance.now();
    for (let done = 0; done < total; done += 1000) {
      for (let i = 0; i < 1000; i++) log.append(1, PAYLOAD);
      await nextTurn();
    }
    const appended = performance.now();
    await log.flush();
    return { perSecond: total / ((appended - start) / 1000), drainMs: performance.now() - appended };
  });
}

interface DurableResult {
  perSecond: number;
  fsyncsPerAppend: number;
  p50Ms: number;
  p99Ms: number;
}

async function durable(clients: number, total: number): Promise<DurableResult> {
  return withLog(async (log) => {
    const perClient = Math.ceil(total / clients);
    const latencies: number[] = [];
    const fsyncsBefore = log.stats.fsyncs;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < perClient; i++) {
          const t = performance.now();
          await log.sync(log.append(1, PAYLOAD));
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const n = clients * perClient;
    return {
      perSecond: n / seconds,
      fsyncsPerAppend: (log.stats.fsyncs - fsyncsBefore) / n,
      p50Ms: latencies[Math.floor(n * 0.5)],
      p99Ms: latencies[Math.floor(n * 0.99)],
    };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${RUNS} runs each, ${PAYLOAD.length}-byte payloads, medians\n`);
  const runsA: Array<{ perSecond: number; drainMs: number }> = [];
  for (let r = 0; r < RUNS; r++) runsA.push(await buffered(1_000_000));
  console.log(
    `(a) buffered appends:            ${fmt(median(runsA.map((x) => x.perSecond)))} appends/s ` +
      `(final flush ${median(runsA.map((x) => x.drainMs)).toFixed(1)} ms)`,
  );
  for (const [clients, total] of [
    [1, 3_000],
    [100, 100_000],
    [1000, 300_000],
  ] as const) {
    const runs: DurableResult[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await durable(clients, total));
    console.log(
      `(b) durable, ${String(clients).padStart(4)} in flight:      ${fmt(median(runs.map((x) => x.perSecond)))} appends/s, ` +
        `${median(runs.map((x) => x.fsyncsPerAppend)).toFixed(4)} fsyncs/append, ` +
        `latency p50 ${median(runs.map((x) => x.p50Ms)).toFixed(2)} ms p99 ${median(runs.map((x) => x.p99Ms)).toFixed(2)} ms`,
    );
  }
}

await main();
