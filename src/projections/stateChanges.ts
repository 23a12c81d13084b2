import { type ActorView, actorOf } from '../domain/actor.ts';
import { type Entry, jobIdsOf } from '../domain/entries.ts';
import type { JobState } from '../domain/job.ts';
import type { QueueProjection } from './QueueProjection.ts';

/** One state transition of one job; `from: null` = created, `to: null` = removed from the state. */
export interface StateChange {
  jobId: string;
  from: JobState | null;
  to: JobState | null;
  position: number;
  /** When the entry was decided (its `at`). */
  time: number;
  actor: ActorView;
}

/**
 * Applies `entry` to `state` (through `apply`) and returns the transitions it
 * made for jobs of `queue`, read from the state on both sides, so they are
 * exactly what the projection did. A job removed as it finished
 * (removeOnComplete, removeOnFail) shows both steps: active → completed → null.
 */
export function transitionsOf(entry: Entry, position: number, state: QueueProjection, queue: string, apply: () => void): StateChange[] {
  const ids = jobIdsOf(entry);
  const before = ids.map((id) => {
    const job = state.job(id);
    return job ? { state: job.state, queue: job.queue } : null;
  });
  apply();
  const changes: StateChange[] = [];
  const change = (jobId: string, from: JobState | null, to: JobState | null) =>
    changes.push({ jobId, from, to, position, time: entry.at, actor: actorOf(entry) });
  ids.forEach((id, i) => {
    const was = before[i];
    const now = state.job(id);
    if ((was?.queue ?? now?.queue) !== queue) return;
    if (was === null) {
      if (now) change(id, null, now.state);
      return;
    }
    if (!now) {
      const finished = entry.type === 'ack' ? 'completed' : entry.type === 'fail' && entry.retryAt === null ? 'failed' : null;
      if (finished !== null && was.state !== finished) {
        change(id, was.state, finished);
        change(id, finished, null);
      } else {
        change(id, was.state, null);
      }
      return;
    }
    if (now.state !== was.state) change(id, was.state, now.state);
  });
  return changes;
}
