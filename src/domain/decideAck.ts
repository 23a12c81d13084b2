import { activeJob } from './activeJob.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { DomainError } from './DomainError.ts';
import { resolveDependents } from './dependents.ts';
import type { JobsView } from './JobsView.ts';
import { nextOccurrence } from './repeat.ts';

export function decideAck(
  view: JobsView,
  id: string,
  token: string | undefined,
  result: unknown,
  ctx: DecideContext,
): Decided<null> {
  const job = activeJob(view, id, token);
  if (job instanceof DomainError) return job;
  return {
    entries: [
      { type: 'ack', at: ctx.now, queue: job.queue, jobId: job.id, result: result ?? null, remove: job.removeOnComplete },
      ...resolveDependents(view, job.id, ctx.now),
      ...nextOccurrence(job, ctx),
    ],
    result: null,
  };
}
