import { serverActor } from './actor.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decision } from './Decision.ts';
import { failAttempt, failTerminally } from './decideFail.ts';
import type { Entry, ServerReason } from './entries.ts';
import type { JobsView } from './JobsView.ts';
import { evictable } from './retention.ts';

export const TTL_EXPIRED = 'ttl expired';
export const TIMEOUT_EXCEEDED = 'timeout exceeded';
export const LEASE_EXPIRED = 'lease expired (job stalled)';

/**
 * The scheduler's command: everything whose time has come. Never-started
 * jobs past their ttl fail to the DLQ; active jobs past their lease fail the
 * attempt (`timeout` when the job has one, else a stall); delayed jobs that
 * are due become ready; finished jobs past retention leave memory. Bounded by `limit` per kind so one tick stays short;
 * the result counts what was decided, so the caller can ask again.
 *
 * Every entry is the server's, with the reason of the deadline that caused
 * it: the dependents a ttl or timeout failure fails share its reason; a
 * repeat's next occurrence keeps `repeat`.
 */
export function decideDue(view: JobsView, ctx: DecideContext, limit = 1000): Decision<number> {
  const entries: Entry[] = [];
  const settled = new Set<string>();
  let decided = 0;
  for (const job of view.expiredTtls(ctx.now, limit)) {
    decided++;
    if (!settled.has(job.id)) append(entries, failTerminally(view, job, 'ttl', TTL_EXPIRED, job.attempts, ctx, settled), 'ttl');
  }
  for (const job of view.expiredLeases(ctx.now, limit)) {
    decided++;
    if (settled.has(job.id)) continue;
    const timedOut = job.timeout !== null;
    append(
      entries,
      failAttempt(view, job, timedOut ? 'timeout' : 'stalled', timedOut ? TIMEOUT_EXCEEDED : LEASE_EXPIRED, ctx, settled),
      timedOut ? 'timeout' : 'lease expired',
    );
  }
  for (const job of view.dueDelayed(ctx.now, limit)) {
    decided++;
    if (!settled.has(job.id)) entries.push({ type: 'promote', at: ctx.now, queue: job.queue, jobId: job.id, by: serverActor('delay due') });
  }
  const evicted = evictable(view, ctx.retention, ctx.now, limit);
  if (evicted.length > 0) {
    decided += evicted.length;
    entries.push({ type: 'evict', at: ctx.now, jobIds: evicted, by: serverActor('retention') });
  }
  return { entries, result: decided };
}

/**
 * Appends `more`, attributing to `reason` each entry not attributed already.
 * Not `push(...more)`: that passes one argument per entry, and a failure
 * cascading down a long dependsOn chain would overflow the stack.
 */
function append(entries: Entry[], more: Entry[], reason: ServerReason): void {
  const actor = serverActor(reason);
  for (const entry of more) {
    entry.by ??= actor;
    entries.push(entry);
  }
}
