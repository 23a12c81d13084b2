/**
 * Delay lateness: how long after its runAt a delayed job is handed out.
 *   node --import tsx bench/delay-lateness.ts [jobs=500] [runs=3]
 *
 * Each run starts the real server (src/main.ts) on an ephemeral port with a
 * fresh temp data dir, otherwise idle, pushes `jobs` jobs with delays spread
 * evenly over 50..2000 ms (pushed in shuffled order, 16 in flight), and keeps
 * 8 long-poll pullers (GET /queues/q/jobs?timeout=5000) running. For each
 * pulled job: lateness = job.startedAt − job.runAt (both server times).
 *
 * A second scenario measures the promotion lateness alone: 100 jobs over the
 * same span (one due every ~20 ms) and 4 pullers, so a puller is always
 * waiting when a job comes due and no job queues behind another.
 *
 * Bounded: a run gives up after 20 s; the server is stopped (SIGTERM, then
 * SIGKILL) and the temp dir removed. Exits by itself.
 */
import { startServer as startServerProcess, type ServerProcess } from './serverProcess.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const JOBS = Number(process.argv[2] ?? 500);
const RUNS = Number(process.argv[3] ?? 3);
const MIN_DELAY = 50;
const MAX_DELAY = 2000;
const RUN_LIMIT_MS = 20_000;
const PUSH_CONCURRENCY = 16;

interface Server {
  url: string;
  process: ServerProcess;
  dataDir: string;
}

async function startServer(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerq-bench-delay-'));
  const server = await startServerProcess(dataDir, {}, 15_000);
  return { url: `http://127.0.0.1:${server.port}`, process: server, dataDir };
}

async function stopServer(s: Server): Promise<void> {
  await s.process.stop('SIGTERM', 5000).catch(() => s.process.stop('SIGKILL', 5000));
  rmSync(s.dataDir, { recursive: true, force: true });
}

/**
 * One HTTP request over the run's keep-alive agent (node:http rather than fetch, so the
 * bench can close its own sockets before stopping the server). Resolves to the JSON body.
 */
function call(agent: Agent, base: string, method: string, path: string, body: unknown, signal: AbortSignal): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        signal,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

interface RunResult {
  /** Jobs due after the last push was answered, and their p99 (no push traffic competing). */
  quietCount: number;
  quietP99: number;
  count: number;
  expected: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  early: number;
}

async function run(jobs: number, pullers: number): Promise<RunResult> {
  const srv = await startServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stop = new AbortController();
  setMaxListeners(1000, stop.signal); // every in-flight request listens to it
  const deadline = setTimeout(() => stop.abort(), RUN_LIMIT_MS);
  const lateness: number[] = [];
  const dueAt: number[] = [];
  let pushEnd = Infinity;
  try {
    const q = 'q';
    const delays = shuffle(Array.from({ length: jobs }, (_, i) => Math.round(MIN_DELAY + (i * (MAX_DELAY - MIN_DELAY)) / Math.max(1, jobs - 1))));

    const puller = async () => {
      while (lateness.length < jobs && !stop.signal.aborted) {
        let body: { job: { startedAt: number; runAt: number } | null };
        try {
          body = (await call(agent, srv.url, 'GET', `/queues/${q}/jobs?timeout=5000`, undefined, stop.signal)).json;
        } catch (err) {
          if (stop.signal.aborted) return;
          throw err;
        }
        if (body.job) {
          lateness.push(body.job.startedAt - body.job.runAt);
          dueAt.push(body.job.runAt);
          if (lateness.length >= jobs) stop.abort();
        }
      }
    };
    const pulling = Array.from({ length: pullers }, puller);

    let next = 0;
    await Promise.all(
      Array.from({ length: PUSH_CONCURRENCY }, async () => {
        while (next < delays.length && !stop.signal.aborted) {
          const delay = delays[next++]!;
          const res = await call(agent, srv.url, 'POST', `/queues/${q}/jobs`, { data: { delay }, delay }, stop.signal).catch((err) => {
            if (stop.signal.aborted) return null;
            throw err;
          });
          if (res && res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(res.json)}`);
        }
      }),
    );
    pushEnd = Date.now();
    await Promise.all(pulling);
  } finally {
    clearTimeout(deadline);
    stop.abort();
    agent.destroy();
    await stopServer(srv);
  }
  const sorted = [...lateness].sort((a, b) => a - b);
  const quiet = lateness.filter((_, i) => dueAt[i]! > pushEnd).sort((a, b) => a - b);
  return {
    quietCount: quiet.length,
    quietP99: percentile(quiet, 99),
    count: sorted.length,
    expected: jobs,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    early: sorted.filter((l) => l < 0).length,
  };
}

function line(i: number, r: RunResult): string {
  const missing = r.count < r.expected ? `  (${r.expected - r.count} never pulled)` : '';
  const early = r.early > 0 ? `  (${r.early} handed out BEFORE runAt)` : '';
  return `  run ${i}: count ${r.count}  p50 ${r.p50} ms  p90 ${r.p90} ms  p99 ${r.p99} ms  max ${r.max} ms  | due after the pushes: ${r.quietCount} jobs, p99 ${r.quietP99} ms${missing}${early}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function scenario(title: string, jobs: number, pullers: number): Promise<void> {
  console.log(`\n${title}: ${jobs} jobs, delays ${MIN_DELAY}..${MAX_DELAY} ms, ${pullers} long-poll pullers, ${RUNS} runs`);
  const p99s: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const r = await run(jobs, pullers);
    console.log(line(i, r));
    p99s.push(r.p99);
  }
  console.log(`  median of p99s: ${median(p99s)} ms`);
}

console.log(`$ node --import tsx bench/delay-lateness.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(`node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; lateness = job.startedAt − job.runAt (server clock, ms resolution)`);
await scenario('A. handed-out lateness', JOBS, 8);
await scenario('B. promotion lateness alone (a puller always waiting)', Math.min(100, JOBS), 4);
