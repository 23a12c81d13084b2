import { serverActor } from './actor.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decision } from './Decision.ts';
import type { ReleaseEntry } from './entries.ts';
import type { JobsView } from './JobsView.ts';

export interface Lease {
  jobId: string;
  token: string;
}

/**
 * A connection that owned leases closed: each job still active under that
 * very lease returns to `waiting` without consuming an attempt. A job since
 * acked, failed, cancelled or re-leased (its lease expired and another worker
 * took it) is left alone. Returns the ids released. The server's decision
 * (reason `connection closed`), whoever had pulled the jobs.
 */
export function decideRelease(view: JobsView, leases: Iterable<Lease>, ctx: DecideContext): Decision<string[]> {
  const entries: ReleaseEntry[] = [];
  const released = new Set<string>();
  for (const { jobId, token } of leases) {
    const job = view.job(jobId);
    if (!job || job.state !== 'active' || job.token !== token || released.has(job.id)) continue;
    released.add(job.id);
    entries.push({ type: 'release', at: ctx.now, queue: job.queue, jobId: job.id, token, by: serverActor('connection closed') });
  }
  return { entries, result: [...released] };
}
