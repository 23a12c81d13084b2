import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { jobNotFound } from './DomainError.ts';
import { failDependents } from './dependents.ts';
import type { JobsView } from './JobsView.ts';

/** Removes a job in any state; the jobs waiting on it fail. */
export function decideCancel(view: JobsView, id: string, ctx: DecideContext): Decided<null> {
  const job = view.job(id);
  if (!job) return jobNotFound();
  return {
    entries: [
      { type: 'cancel', at: ctx.now, queue: job.queue, jobId: job.id, prev: job.state },
      ...failDependents(view, job.id, ctx.now),
    ],
    result: null,
  };
}
