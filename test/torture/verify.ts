/**
 * The checks after a restart: every job the oracle knows is read back
 * (GET /jobs/:id) and compared with what the server acknowledged; the
 * epoch's losses are measured and must form a tail of the log; the server's
 * counts must add up to the jobs read; nothing may be stranded.
 */
import { pool, type TestServer } from '../support/testServer.ts';
import { httpCall } from './httpCall.ts';
import type { JobRec, Oracle } from './oracle.ts';
import type { Epoch } from './workload.ts';

const STATES = ['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;
type Tally = Record<(typeof STATES)[number], number>;

/** An active job whose lease ran out this long ago should have been stalled by the scheduler. */
const STALL_GRACE_MS = 2000;

export interface VerifyResult {
  tally: Tally;
  jobCount: number;
  stats: any;
}

async function readJob(srv: TestServer, id: string): Promise<{ status: number; job: any }> {
  const answer = await httpCall(srv.url, 'GET', `/jobs/${encodeURIComponent(id)}`);
  if (answer.status !== 200 && answer.status !== 404) throw new Error(`GET /jobs/${id} → ${answer.status} ${JSON.stringify(answer.json)}`);
  return { status: answer.status, job: answer.status === 200 ? answer.json.job : null };
}

async function readStats(srv: TestServer): Promise<any> {
  const answer = await httpCall(srv.url, 'GET', '/stats');
  if (answer.status !== 200) throw new Error(`GET /stats → ${answer.status}`);
  return answer.json;
}

function emptyTally(): Tally {
  return { waiting: 0, active: 0, delayed: 0, 'waiting-children': 0, completed: 0, failed: 0 };
}

function tallyOfStats(s: any): Tally & { jobs: number } {
  const t = {
    waiting: s.stats.queued,
    active: s.stats.processing,
    delayed: s.stats.delayed,
    completed: s.stats.completed,
    failed: s.stats.dlq,
    'waiting-children': 0,
    jobs: s.collections.jobIndex,
  };
  t['waiting-children'] = t.jobs - t.waiting - t.active - t.delayed - t.completed - t.failed;
  return t;
}

/**
 * Reads every known job and checks it. `previous` is the epoch that ended in
 * a kill (null for the checks after a graceful stop or the final drain).
 * With `final`, every job must be terminal and the counts must match exactly.
 */
export async function verifyAfterRestart(srv: TestServer, oracle: Oracle, previous: Epoch | null, final = false): Promise<VerifyResult> {
  const statsBefore = await readStats(srv);
  const recs = oracle.jobs.filter((r) => r.id !== null && r.existence !== 'absent' && r.existence !== 'lost');
  const reads = await pool(recs, 16, (rec) => readJob(srv, rec.id as string));
  const statsAfter = await readStats(srv);
  const now = Date.now();

  const tally = emptyTally();
  const stateOf = new Map<string, string | null>();
  const lost: JobRec[] = [];
  let latestSurvivorSentAt = -Infinity;
  const suspects: Array<{ rec: JobRec; why: string; view: any }> = [];
  let existing = 0;

  recs.forEach((rec, i) => {
    const { status, job } = reads[i] as { status: number; job: any };
    const exists = status === 200;
    const id = rec.id as string;
    stateOf.set(id, exists ? job.state : null);
    oracle.checked('job read back after a restart');
    const removedLegitimately = rec.cancelSent || (rec.removeOnComplete && rec.ackSent);
    switch (rec.existence) {
      case 'inflight':
        // Only custom ids get here: the push's answer was lost, so either outcome is right.
        if (exists) {
          rec.existence = 'confirmed';
          oracle.count('in-flight push found after restart');
        } else {
          rec.existence = 'absent';
        }
        break;
      case 'maybe':
        if (exists || removedLegitimately) {
          rec.existence = 'confirmed';
          if (exists && rec.epoch === previous?.number) latestSurvivorSentAt = Math.max(latestSurvivorSentAt, rec.pushSentAt);
        } else {
          rec.existence = 'lost';
          lost.push(rec);
        }
        break;
      case 'confirmed':
        if (!exists && !removedLegitimately) {
          oracle.violation(
            rec.durable ? 'durable-push-lost' : 'acknowledged-job-lost',
            `job ${id} (queue ${rec.queue}, pushed in epoch ${rec.epoch}${rec.completed ? ', ack acknowledged' : ''}) answers 404 after restart`,
          );
        }
        break;
    }
    if (!exists) return;
    existing++;
    const state = job.state as keyof Tally;
    if (state in tally) tally[state]++;
    else oracle.violation('unknown-state', `job ${id}: state ${job.state}`);
    if (rec.cancelled) oracle.violation('cancel-undone', `job ${id} is ${state} after its cancel was acknowledged`);
    if (rec.completed && state !== 'completed') oracle.violation('ack-undone', `job ${id} is ${state} after its ack was acknowledged`);
    if (rec.dlq && state !== 'failed') oracle.violation('fail-undone', `job ${id} is ${state} after a terminal fail was acknowledged`);
    if (state === 'completed' && !rec.ackSent) oracle.violation('phantom-completion', `job ${id} is completed but no client ever acked it`);
    if (job.attempts < rec.failsAcked) oracle.violation('attempts-went-back', `job ${id}: attempts ${job.attempts} < ${rec.failsAcked} acknowledged fails`);
    if (final && state !== 'completed' && state !== 'failed') suspects.push({ rec, why: `not terminal after the final drain (${state})`, view: job });
    if (state === 'active') {
      const leaseMs = job.timeout ?? oracle.lockTtlMs;
      if (now > job.startedAt + leaseMs + STALL_GRACE_MS) suspects.push({ rec, why: 'active long after its lease ran out', view: job });
    }
    if (state === 'waiting-children') suspects.push({ rec, why: 'waiting-children', view: job });
  });
  if (final) oracle.checked('job checked terminal after the final drain', existing);

  // A missing dependency counts as settled (completed and removed, or cancelled: either way the dependent must have moved).
  const settled = (depId: string) => {
    const s = stateOf.has(depId) ? stateOf.get(depId) : null;
    return s === null || s === 'completed' || s === 'failed';
  };
  for (const suspect of suspects) {
    const { rec, why, view } = suspect;
    if (why === 'waiting-children' && !(view.dependsOn as string[]).every(settled)) continue;
    // Read again: a timer may have moved it since the sweep.
    const again = await readJob(srv, rec.id as string);
    const still =
      again.status === 200 &&
      again.job.state === view.state &&
      (why !== 'active long after its lease ran out' || again.job.startedAt === view.startedAt);
    if (!still) continue;
    if (why === 'waiting-children') {
      oracle.violation('stranded-waiting-children', `job ${rec.id} waits for ${JSON.stringify(view.dependsOn)}, all settled`);
    } else {
      oracle.violation(why.startsWith('active') ? 'stranded-active' : 'not-terminal', `job ${rec.id}: ${why}: ${JSON.stringify(again.job).slice(0, 400)}`);
    }
  }

  if (previous) checkLosses(oracle, previous, lost, latestSurvivorSentAt);
  checkCounts(oracle, statsBefore, statsAfter, tally, existing, final);
  return { tally, jobCount: existing, stats: statsAfter };
}

/**
 * Answered non-durable pushes missing after the kill are allowed, but only
 * as the log's tail: nothing durably answered, and no surviving push, may
 * have been sent after a lost push was answered (its entry came later in the log).
 */
function checkLosses(oracle: Oracle, epoch: Epoch, lost: JobRec[], latestSurvivorSentAt: number): void {
  oracle.checked('epoch checked for losses');
  if (lost.length === 0) return;
  let earliest = lost[0] as JobRec;
  for (const rec of lost) {
    if ((rec.pushAnsweredAt as number) < (earliest.pushAnsweredAt as number)) earliest = rec;
    oracle.losses.push({
      walFlushMs: epoch.walFlushMs,
      withSubscribers: epoch.withWs,
      windowMs: Math.max(0, epoch.killAt - (rec.pushAnsweredAt as number)),
    });
  }
  const lostAnsweredAt = earliest.pushAnsweredAt as number;
  if (epoch.maxDurableSentAt > lostAnsweredAt) {
    oracle.violation(
      'lost-before-durable',
      `epoch ${epoch.number}: push ${earliest.id} answered at ${lostAnsweredAt} is lost, but a request sent at ${epoch.maxDurableSentAt} was answered durably`,
    );
  }
  if (latestSurvivorSentAt > lostAnsweredAt) {
    oracle.violation(
      'hole-in-log',
      `epoch ${epoch.number}: push ${earliest.id} answered at ${lostAnsweredAt} is lost, but a push sent at ${latestSurvivorSentAt} survived`,
    );
  }
}

/**
 * /stats against the jobs read. Jobs whose push answer a kill swallowed (server
 * ids) may exist unknown to the clients: they may only add, at most that many.
 * The per-state comparison is made only when /stats did not move during the
 * sweep (timers promote and stall jobs); the job count always.
 */
function checkCounts(oracle: Oracle, before: any, after: any, tally: Tally, existing: number, final: boolean): void {
  const unknown = oracle.unknownInFlight;
  const b = tallyOfStats(before);
  const a = tallyOfStats(after);
  const extraJobs = a.jobs - existing;
  oracle.checked('count comparison');
  if (b.jobs !== a.jobs || extraJobs < 0 || extraJobs > unknown) {
    oracle.violation('counts', `server holds ${a.jobs} jobs (before the sweep ${b.jobs}); the clients know ${existing} and ${unknown} unanswered pushes`);
  }
  const stable = STATES.every((s) => a[s] === b[s]);
  if (!stable) {
    if (final) oracle.violation('counts', `/stats still moving after the final drain: ${JSON.stringify(b)} → ${JSON.stringify(a)}`);
    return;
  }
  oracle.checked('per-state count comparison');
  let extra = 0;
  for (const s of STATES) {
    const d = a[s] - tally[s];
    extra += d;
    if (d < 0 || d > unknown) {
      oracle.violation('counts', `${s}: /stats says ${a[s]}, the jobs read say ${tally[s]} (${unknown} unanswered pushes)`);
    }
  }
  if (extra > unknown) oracle.violation('counts', `/stats holds ${extra} jobs more than the clients know (${unknown} unanswered pushes)`);
}
