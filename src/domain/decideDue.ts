import type { DecideContext } from './DecideContext.ts';
import type { Decision } from './Decision.ts';
import type { JobsView } from './JobsView.ts';

/** The scheduler's command: delayed jobs whose time has come become ready. Bounded so one tick stays short. */
export function decideDue(view: JobsView, ctx: DecideContext, limit = 1000): Decision<number> {
  const due = view.dueDelayed(ctx.now, limit);
  return {
    entries: due.map((job) => ({ type: 'promote' as const, at: ctx.now, queue: job.queue, jobId: job.id })),
    result: due.length,
  };
}
