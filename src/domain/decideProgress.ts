import { activeJob } from './activeJob.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { DomainError } from './DomainError.ts';
import type { JobsView } from './JobsView.ts';

/**
 * A worker's progress report, which also proves it is alive: the lease is
 * renewed for another lock TTL, or up to the job's hard `timeout` deadline.
 * `progress` undefined is a bare heartbeat.
 */
export function decideProgress(
  view: JobsView,
  id: string,
  token: string | undefined,
  progress: number | undefined,
  message: string | undefined,
  ctx: DecideContext,
): Decided<null> {
  const job = activeJob(view, id, token);
  if (job instanceof DomainError) return job;
  const leaseUntil =
    job.timeout !== null ? (job.startedAt ?? ctx.now) + job.timeout : ctx.now + ctx.lockTtlMs;
  return {
    entries: [
      {
        type: 'progress',
        at: ctx.now,
        queue: job.queue,
        jobId: job.id,
        progress: progress ?? job.progress,
        message: message ?? null,
        leaseUntil,
      },
    ],
    result: null,
  };
}
