/**
 * The crash loop: a real server on one data directory, killed with SIGKILL
 * at a random moment of a random workload again and again, restarted, and
 * checked against the clients' own record after every restart (see
 * oracle.ts, verify.ts). At the end: a final drain (everything pulled and
 * acked, every delay waited for), a strict check that every job is terminal
 * and the counts add up, a graceful stop and one more restart that must show
 * the same state.
 *
 * Used by `npm run torture` (scripts/torture.ts) and, short, by
 * test/torture/crashLoop.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, startServer, type TestServer } from '../support/testServer.ts';
import { HttpChannel } from './channels.ts';
import { httpCall } from './httpCall.ts';
import { type LossRecord, Oracle, type Violation } from './oracle.ts';
import { Prng } from './prng.ts';
import { verifyAfterRestart } from './verify.ts';
import { type Epoch, finish, type Held, runActors } from './workload.ts';

export interface CrashLoopOptions {
  kills: number;
  seed: number;
  /** WAL_FLUSH_MS values; the kills are split between them in order. */
  walFlushMs: readonly number[];
  lockTtlMs: number;
  /** Time from `listening` to the SIGKILL, drawn uniformly in [min, max] ms. */
  killAfterMs: readonly [number, number];
  /** Share of epochs whose clients include WebSockets. */
  wsShare: number;
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: CrashLoopOptions = {
  kills: 60,
  seed: 1,
  walFlushMs: [2, 10, 50],
  lockTtlMs: 3000,
  killAfterMs: [50, 1500],
  wsShare: 0.5,
  drainTimeoutMs: 60_000,
  log: () => {},
};

export interface LossFigures {
  walFlushMs: number;
  withSubscribers: boolean;
  epochs: number;
  nonDurablePushesAnswered: number;
  lost: number;
  /** Longest time between a lost push's answer and the kill, ms. */
  worstWindowMs: number;
  /** Most pushes lost by one kill. */
  worstLostInOneKill: number;
}

export interface CrashLoopSummary {
  seed: number;
  kills: number;
  restarts: number;
  jobs: number;
  acknowledged: Record<string, number>;
  operationsAcknowledged: number;
  checks: Record<string, number>;
  checksMade: number;
  expiredLeasesReissued: number;
  losses: LossFigures[];
  finalState: Record<string, number>;
  violations: Violation[];
  wallMs: number;
}

const QUEUE_COUNT = 3;

function serverEnv(opts: CrashLoopOptions, walFlushMs: number): Record<string, string> {
  return {
    WAL_FLUSH_MS: String(walFlushMs),
    LOCK_TTL_MS: String(opts.lockTtlMs),
    // Snapshots often, so kills land during them and restarts go through snapshot + replay.
    SNAPSHOT_INTERVAL_MS: '700',
    // Nothing is evicted during the run: every acknowledged state must still be readable.
    COMPLETED_RETENTION_MS: String(365 * 24 * 3600 * 1000),
    COMPLETED_MAX: '100000000',
    DLQ_RETENTION_MS: String(365 * 24 * 3600 * 1000),
    DLQ_MAX: '100000000',
    // info: the harness waits for the `listening` line.
    LOG_LEVEL: 'info',
  };
}

export async function runCrashLoop(options: Partial<CrashLoopOptions> = {}): Promise<CrashLoopSummary> {
  const opts: CrashLoopOptions = { ...DEFAULT_OPTIONS, ...options };
  const started = Date.now();
  const rng = new Prng(opts.seed);
  const oracle = new Oracle(opts.lockTtlMs);
  const runTag = `s${opts.seed}-${Date.now().toString(36)}`;
  const queues = Array.from({ length: QUEUE_COUNT }, (_, i) => `torture-${i}`);
  const dataDir = makeTempDir('ledgerq-torture-');
  const epochs: Epoch[] = [];
  const held: Held[] = [];
  let restarts = 0;
  let srv: TestServer | null = null;

  const walFor = (epochNumber: number) =>
    opts.walFlushMs[Math.min(opts.walFlushMs.length - 1, Math.floor(((epochNumber - 1) * opts.walFlushMs.length) / opts.kills))] as number;

  const start = async (walFlushMs: number): Promise<TestServer> => {
    try {
      const server = await startServer({ dataDir, env: serverEnv(opts, walFlushMs), readyTimeoutMs: 30_000 });
      if (epochs.length > 0) restarts++;
      return server;
    } catch (err) {
      oracle.violation('restart-failed', (err as Error).message.slice(0, 4000));
      throw err;
    }
  };

  try {
    for (let n = 1; n <= opts.kills; n++) {
      const walFlushMs = walFor(n);
      srv = await start(walFlushMs);
      const previous = epochs[epochs.length - 1] ?? null;
      if (previous) await verifyAfterRestart(srv, oracle, previous);
      const epoch: Epoch = {
        number: n,
        srv,
        oracle,
        queues,
        runTag,
        held,
        withWs: rng.chance(opts.wsShare),
        stopped: false,
        maxDurableSentAt: -Infinity,
        killAt: 0,
        walFlushMs,
      };
      epochs.push(epoch);
      const actors = runActors(epoch, rng.fork());
      await sleep(rng.int(opts.killAfterMs[0], opts.killAfterMs[1]));
      epoch.killAt = Date.now();
      srv.killNow();
      epoch.stopped = true;
      await srv.waitExit();
      await Promise.race([actors, sleep(15_000)]);
      opts.log(
        `kill ${n}/${opts.kills} (WAL_FLUSH_MS=${walFlushMs}${epoch.withWs ? ', ws' : ''}): ${oracle.jobs.length} jobs, ` +
          `${oracle.losses.length} lost so far, ${oracle.violations.length} violations`,
      );
    }

    // One more start, the checks for the last kill, then the final drain.
    srv = await start(walFor(opts.kills));
    const last = epochs[epochs.length - 1] ?? null;
    if (last) await verifyAfterRestart(srv, oracle, last);
    await finalDrain(srv, oracle, queues, held, opts);
    const drained = await verifyAfterRestart(srv, oracle, null, true);
    const code = await srv.stop(30_000);
    if (code !== 0) oracle.violation('graceful-stop', `SIGTERM exit code ${code}`);
    srv = await start(walFor(opts.kills));
    const again = await verifyAfterRestart(srv, oracle, null, true);
    if (JSON.stringify(again.tally) !== JSON.stringify(drained.tally) || again.jobCount !== drained.jobCount) {
      oracle.violation('graceful-restart', `state changed across a SIGTERM restart: ${JSON.stringify(drained.tally)} → ${JSON.stringify(again.tally)}`);
    }
    await srv.stop(30_000);
    return summarize(opts, oracle, epochs, restarts, again.tally, started);
  } finally {
    if (srv?.alive) await srv.kill();
  }
}

/**
 * Pulls and acks everything, finishes the leases still held, and waits for
 * delays, backoffs and lease expiries, until /stats shows no job that is not
 * terminal.
 */
async function finalDrain(srv: TestServer, oracle: Oracle, queues: readonly string[], held: Held[], opts: CrashLoopOptions): Promise<void> {
  const epoch: Epoch = {
    number: Number.MAX_SAFE_INTEGER,
    srv,
    oracle,
    queues,
    runTag: 'drain',
    held,
    withWs: false,
    stopped: false,
    maxDurableSentAt: -Infinity,
    killAt: 0,
    walFlushMs: 0,
  };
  const ch = new HttpChannel(srv.url);
  for (const h of held.splice(0)) await finish(epoch, ch, h, false);
  const deadline = Date.now() + opts.drainTimeoutMs;
  for (;;) {
    let pulled = 0;
    for (const queue of queues) {
      for (;;) {
        const sentAt = Date.now();
        const reply = await ch.pull(queue, 0);
        if (!reply.ok) {
          oracle.violation('drain', `pull ${queue}: ${reply.status} ${JSON.stringify(reply.json)}`);
          break;
        }
        if (!reply.json.job) break;
        pulled++;
        const rec = oracle.pulled(reply.json.job, reply.json.token, 'http', epoch.number, sentAt);
        if (!rec) {
          await ch.ack(reply.json.job.id, reply.json.token);
          continue;
        }
        await finish(epoch, ch, { rec, lease: oracle.leaseOf(rec, reply.json.token)! }, false);
      }
    }
    const stats = (await httpCall(srv.url, 'GET', '/stats')).json;
    const s = stats.stats;
    const open = stats.collections.jobIndex - s.completed - s.dlq;
    if (pulled === 0 && open === 0) return;
    if (Date.now() > deadline) {
      oracle.violation('drain', `after ${opts.drainTimeoutMs} ms ${open} jobs are not terminal: ${JSON.stringify(s)}`);
      return;
    }
    if (pulled === 0) await sleep(100);
  }
}

function summarize(opts: CrashLoopOptions, oracle: Oracle, epochs: Epoch[], restarts: number, finalState: Record<string, number>, started: number): CrashLoopSummary {
  const losses: LossFigures[] = [];
  for (const walFlushMs of opts.walFlushMs) {
    for (const withSubscribers of [false, true]) {
      const inGroup = epochs.filter((e) => e.walFlushMs === walFlushMs && e.withWs === withSubscribers);
      if (inGroup.length === 0) continue;
      const numbers = new Set(inGroup.map((e) => e.number));
      const answered = oracle.jobs.filter((r) => numbers.has(r.epoch) && !r.durable && r.pushAnsweredAt !== null).length;
      const group: LossRecord[] = oracle.losses.filter((l) => l.walFlushMs === walFlushMs && l.withSubscribers === withSubscribers);
      const perKill = new Map<number, number>();
      for (const rec of oracle.jobs) if (rec.existence === 'lost' && numbers.has(rec.epoch)) perKill.set(rec.epoch, (perKill.get(rec.epoch) ?? 0) + 1);
      losses.push({
        walFlushMs,
        withSubscribers,
        epochs: inGroup.length,
        nonDurablePushesAnswered: answered,
        lost: group.length,
        worstWindowMs: group.reduce((m, l) => Math.max(m, l.windowMs), 0),
        worstLostInOneKill: Math.max(0, ...perKill.values()),
      });
    }
  }
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return {
    seed: opts.seed,
    kills: epochs.length,
    restarts,
    jobs: oracle.jobs.length,
    acknowledged: oracle.acknowledged,
    operationsAcknowledged: sum(oracle.acknowledged),
    checks: oracle.checks,
    checksMade: sum(oracle.checks),
    expiredLeasesReissued: oracle.expiredLeasesReissued,
    losses,
    finalState,
    violations: oracle.violations,
    wallMs: Date.now() - started,
  };
}
