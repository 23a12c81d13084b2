/**
 * How a job's log entries and attempts look to clients: an entry is its
 * position, its time, its type, who did it and the facts it recorded.
 */
import { actorOf } from '../domain/actor.ts';
import type { Entry } from '../domain/entries.ts';
import type { LoggedEntry } from '../projections/JobHistory.ts';
import type { Attempt } from '../projections/jobAttempts.ts';

/** `{position, time, type, actor, ...facts}`: facts are every field the entry recorded but the job ids (the URL names the job). */
export function historyEntryView({ position, entry }: LoggedEntry) {
  const { type, at, ...recorded } = entry as Entry & { jobId?: string; jobIds?: string[]; v?: number };
  // An eviction's list names thousands of other jobs; the payload version and the raw actor are encoding, not facts.
  const { jobId: _jobId, jobIds: _jobIds, v: _version, by: _by, ...facts } = recorded;
  return { position, time: at, type, actor: actorOf(entry), ...facts };
}

export function attemptView(attempt: Attempt) {
  return {
    number: attempt.number,
    pushPosition: attempt.pushPosition,
    pulledBy: actorOf(attempt.pull.entry),
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
