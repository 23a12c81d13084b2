/**
 * How a job's log entries and attempts look to clients: an entry is its
 * position, its time, its type, who did it and the facts it recorded.
 */
import type { Entry } from '../domain/entries.ts';
import type { LoggedEntry } from '../projections/JobHistory.ts';
import type { Attempt } from '../projections/jobAttempts.ts';

/**
 * Who wrote the entry. The one place that reads it: the "actor" change gives
 * entries an actor (src/domain/actor.ts `actorOf`), entries logged before it
 * have none.
 */
export function entryActor(entry: Entry): unknown {
  return (entry as { actor?: unknown }).actor ?? null;
}

/** `{position, time, type, actor, ...facts}`: facts are every field the entry recorded but the job ids (the URL names the job). */
export function historyEntryView({ position, entry }: LoggedEntry) {
  const { type, at, ...recorded } = entry as Entry & { jobId?: string; jobIds?: string[]; actor?: unknown };
  // An eviction's list names thousands of other jobs.
  const { jobId: _jobId, jobIds: _jobIds, actor: _actor, ...facts } = recorded;
  return { position, time: at, type, actor: entryActor(entry), ...facts };
}

export function attemptView(attempt: Attempt) {
  return {
    number: attempt.number,
    pushPosition: attempt.pushPosition,
    pulledBy: entryActor(attempt.pull.entry),
    pullPosition: attempt.pull.position,
    token: attempt.pull.entry.token,
    startedAt: attempt.startedAt,
    leaseUntil: attempt.leaseUntil,
    endedAt: attempt.endedAt,
    endPosition: attempt.endPosition,
    outcome: attempt.outcome,
    error: attempt.error,
    overlapped: attempt.overlapped,
  };
}
