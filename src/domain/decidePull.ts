import type { DecideContext } from './DecideContext.ts';
import type { Decision } from './Decision.ts';
import type { JobsView } from './JobsView.ts';

export interface PullResult {
  jobId: string;
  token: string;
}

/** Takes the queue's next ready job under a lease of `timeout` (when the job has one) or the lock TTL. */
export function decidePull(view: JobsView, queue: string, ctx: DecideContext): Decision<PullResult | null> {
  const job = view.nextReady(queue);
  if (!job) return { entries: [], result: null };
  const token = ctx.newId();
  return {
    entries: [
      {
        type: 'pull',
        at: ctx.now,
        queue,
        jobId: job.id,
        token,
        leaseUntil: ctx.now + (job.timeout ?? ctx.lockTtlMs),
        drained: view.readyCount(queue) === 1,
      },
    ],
    result: { jobId: job.id, token },
  };
}
