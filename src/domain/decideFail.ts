import { activeJob } from './activeJob.ts';
import { retryDelay } from './backoff.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Decided } from './Decision.ts';
import { DomainError } from './DomainError.ts';
import { failDependents } from './dependents.ts';
import type { Entry, FailCause } from './entries.ts';
import type { Job } from './job.ts';
import type { JobsView } from './JobsView.ts';
import { nextOccurrence } from './repeat.ts';

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
 * An attempt that ended without success (fail, stall, timeout): counted,
 * then retried after the backoff while attempts remain, else terminal.
 */
export function failAttempt(
  view: JobsView,
  job: Readonly<Job>,
  cause: FailCause,
  error: string,
  ctx: DecideContext,
  settled = new Set<string>(),
): Entry[] {
  const attempts = job.attempts + 1;
  if (attempts >= job.maxAttempts) return failTerminally(view, job, cause, error, attempts, ctx, settled);
  settled.add(job.id);
  return [failEntry(job, cause, error, attempts, ctx.now + retryDelay(job.backoff, attempts, ctx.random), ctx.now)];
}

/**
 * A failure with no retry: the job goes to the DLQ (or leaves the state with
 * removeOnFail), the jobs waiting on it fail, and a repeat chain goes on.
 * `settled` holds jobs already decided in this command, so none ends twice.
 */
export function failTerminally(
  view: JobsView,
  job: Readonly<Job>,
  cause: FailCause,
  error: string,
  attempts: number,
  ctx: DecideContext,
  settled = new Set<string>(),
): Entry[] {
  settled.add(job.id);
  return [
    failEntry(job, cause, error, attempts, null, ctx.now),
    ...failDependents(view, job.id, ctx.now, settled),
    ...nextOccurrence(job, ctx),
  ];
}

/** The fact of a failed attempt; `retryAt` null means terminal. */
function failEntry(job: Readonly<Job>, cause: FailCause, error: string, attempts: number, retryAt: number | null, now: number): Entry {
  return {
    type: 'fail',
    at: now,
    queue: job.queue,
    jobId: job.id,
    cause,
    error,
    attempts,
    retryAt,
    prev: job.state,
    remove: retryAt === null && job.removeOnFail,
  };
}
