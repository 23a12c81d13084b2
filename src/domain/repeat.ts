import { serverActor } from './actor.ts';
import type { DecideContext } from './DecideContext.ts';
import type { Entry } from './entries.ts';
import type { Job } from './job.ts';

/**
 * The push of a repeat chain's next occurrence, made when the current one
 * ends (completed or DLQ): due at the first slot `scheduledAt + k × every`
 * still in the future, so a late or long run neither overlaps the next one
 * nor causes a catch-up burst. `limit` counts every occurrence. The server's
 * decision (reason `repeat`), whoever ended the previous occurrence.
 */
export function nextOccurrence(job: Readonly<Job>, ctx: DecideContext): Entry[] {
  const repeat = job.repeat;
  if (!repeat || (repeat.limit !== null && job.occurrence >= repeat.limit)) return [];
  const slots = Math.max(1, Math.floor((ctx.now - job.scheduledAt) / repeat.every) + 1);
  const runAt = job.scheduledAt + slots * repeat.every;
  const next: Job = {
    ...job,
    id: ctx.newId(),
    createdAt: ctx.now,
    runAt,
    scheduledAt: runAt,
    startedAt: null,
    completedAt: null,
    attempts: 0,
    progress: 0,
    progressMessage: null,
    state: 'delayed',
    result: null,
    error: null,
    dependsOn: [],
    occurrence: job.occurrence + 1,
    token: null,
    leaseUntil: null,
  };
  return [{ type: 'push', at: ctx.now, queue: job.queue, jobId: next.id, job: next, by: serverActor('repeat') }];
}
