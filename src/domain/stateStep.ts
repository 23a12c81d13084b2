import type { Entry } from './entries.ts';
import type { JobState } from './job.ts';

/**
 * Where an entry moves a job it names. `to: null` = the job leaves the state
 * (cancelled, evicted, or removed as it finished, in which case `finished`
 * names the end state it passed through). null = the entry changes no state
 * (a duplicate push, progress).
 */
export type StateStep = { to: JobState } | { to: null; finished: 'completed' | 'failed' | null } | null;

/** A retried job waits for its retry time, or is ready at once when that time has come. */
export function retryState(retryAt: number, at: number): JobState {
  return retryAt > at ? 'delayed' : 'waiting';
}

/** A job whose dependencies all completed runs at its own time: delayed while that is still ahead. */
export function resolvedState(runAt: number, at: number): JobState {
  return runAt > at ? 'delayed' : 'waiting';
}

/**
 * The state rule of every entry type, for a job whose run time before the
 * entry was `runAt`: QueueProjection moves jobs by it, and the changes feed
 * reads transitions off it without building the whole state.
 */
export function stateStep(entry: Entry, runAt: number): StateStep {
  switch (entry.type) {
    case 'push':
      return { to: entry.job.state };
    case 'duplicate':
    case 'progress':
      return null;
    case 'pull':
      return { to: 'active' };
    case 'ack':
      return entry.remove ? { to: null, finished: 'completed' } : { to: 'completed' };
    case 'fail':
      if (entry.retryAt !== null) return { to: retryState(entry.retryAt, entry.at) };
      return entry.remove ? { to: null, finished: 'failed' } : { to: 'failed' };
    case 'release':
    case 'promote':
      return { to: 'waiting' };
    case 'resolve':
      return { to: resolvedState(runAt, entry.at) };
    case 'cancel':
    case 'evict':
      return { to: null, finished: null };
  }
}
