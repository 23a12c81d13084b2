import { activeJob } from './activeJob.ts';
import { retryDelay } from './backoff.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { DomainError } from './DomainError.ts';
import { failDependents } from './dependents.ts';
import type { Entry, FailCause } from './entries.ts';
import type { Job } from './job.ts';
import type { JobsView } from './JobsView.ts';

export function decideFail(
  view: JobsView,
  id: string,
  token: string | undefined,
  error: string | undefined,
  ctx: DecideContext,
): Decided<null> {
  const job = activeJob(view, id, token);
  if (job instanceof DomainError) return job;
  return { entries: failAttempt(view, job, 'error', error ?? 'failed', ctx), result: null };
}

/**
 * An attempt that ended without success: counted, then retried after the
 * backoff while attempts remain, else terminal (DLQ, or removal with
 * removeOnFail), which fails the jobs waiting on it.
 */
export function failAttempt(view: JobsView, job: Readonly<Job>, cause: FailCause, error: string, ctx: DecideContext): Entry[] {
  const attempts = job.attempts + 1;
  const retry = attempts < job.maxAttempts;
  const entry: Entry = {
    type: 'fail',
    at: ctx.now,
    queue: job.queue,
    jobId: job.id,
    cause,
    error,
    attempts,
    retryAt: retry ? ctx.now + retryDelay(job.backoff, attempts, ctx.random) : null,
    prev: job.state,
    remove: !retry && job.removeOnFail,
  };
  return retry ? [entry] : [entry, ...failDependents(view, job.id, ctx.now)];
}
