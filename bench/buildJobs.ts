// Builds a server data directory holding N waiting jobs, in-process, with the
// project's own modules: the same decide → append → apply path the server runs
// for `POST /queues/:q/jobs`, so the log holds exactly the entries the server
// would have written (pushing 1M jobs over HTTP would take minutes).
//
// As a script: node --import tsx bench/buildJobs.ts <dataDir> [jobs=1000000] [queues=10]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decidePush } from '../src/domain/decidePush.ts';
import { parsePushOptions, type PushOptions } from '../src/domain/pushOptions.ts';
import { SegmentedLog } from '../src/log/SegmentedLog.ts';
import { EventBus } from '../src/projections/EventBus.ts';
import { QueueProjection } from '../src/projections/QueueProjection.ts';
import { commandContext } from '../src/commands/CommandContext.ts';
import { Ledger } from '../src/commands/Ledger.ts';

export interface BuildOptions {
  jobs: number;
  /** Jobs go round robin to queues `q0` … `q<queues-1>`. */
  queues?: number;
  /** Ids kept per queue, in push order (= pull order: same priority, FIFO). */
  keepFirst?: number;
}

export interface BuiltJobs {
  jobs: number;
  queues: string[];
  /** The first `keepFirst` job ids of each queue, in pull order. */
  firstIds: Map<string, string[]>;
  /** The last job pushed (id, queue, data). */
  last: { id: string; queue: string; data: unknown };
  /** Bytes of the log directory's records (sum of payloads as the log counts them). */
  walBytes: number;
  ms: number;
}

const TARGET_DATA_BYTES = 100;

/** ~100 bytes of JSON: `{"to":"user123456@example.com","subject":"Welcome aboard","n":123456,"pad":"xx…"}`. */
export function jobData(n: number): { to: string; subject: string; n: number; pad: string } {
  const base = { to: `user${n}@example.com`, subject: 'Welcome aboard', n, pad: '' };
  const size = Buffer.byteLength(JSON.stringify(base));
  return { ...base, pad: 'x'.repeat(Math.max(0, TARGET_DATA_BYTES - size)) };
}

export async function buildJobs(dataDir: string, options: BuildOptions): Promise<BuiltJobs> {
  const started = performance.now();
  const queueCount = options.queues ?? 10;
  const keepFirst = options.keepFirst ?? 10;
  const queues = Array.from({ length: queueCount }, (_, i) => `q${i}`);
  const log = await SegmentedLog.open({ dir: join(dataDir, 'wal') });
  const ledger = new Ledger(log, new QueueProjection(), new EventBus());
  const context = commandContext(30_000);
  const firstIds = new Map(queues.map((q) => [q, [] as string[]]));
  let last: BuiltJobs['last'] | undefined;
  try {
    for (let i = 0; i < options.jobs; i++) {
      const queue = queues[i % queueCount];
      const parsed = parsePushOptions({ data: jobData(100_000 + i) });
      if (!parsed.ok) throw new Error(`push options rejected: ${parsed.error}`);
      const pushOptions: PushOptions = parsed.value;
      const outcome = ledger.run((view) => decidePush(view, queue, pushOptions, context()));
      if (!outcome.ok) throw new Error(`push ${i} failed: ${outcome.error.message}`);
      const kept = firstIds.get(queue) as string[];
      if (kept.length < keepFirst) kept.push(outcome.result.id);
      if (i === options.jobs - 1) last = { id: outcome.result.id, queue, data: pushOptions.data };
      if ((i + 1) % 50_000 === 0) await log.flush();
    }
    await log.flush();
  } finally {
    await log.close();
  }
  if (!last) throw new Error('buildJobs: jobs must be >= 1');
  return { jobs: options.jobs, queues, firstIds, last, walBytes: log.stats.bytesWritten, ms: performance.now() - started };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dataDir, jobs = '1000000', queues = '10'] = process.argv.slice(2);
  if (!dataDir) {
    process.stderr.write('usage: node --import tsx bench/buildJobs.ts <dataDir> [jobs] [queues]\n');
    process.exit(2);
  }
  const built = await buildJobs(dataDir, { jobs: Number(jobs), queues: Number(queues) });
  console.log(
    `built ${built.jobs.toLocaleString('en')} waiting jobs in ${built.queues.length} queues at ${dataDir}: ` +
      `${(built.walBytes / 2 ** 20).toFixed(0)} MiB of log in ${(built.ms / 1000).toFixed(1)} s`,
  );
}
