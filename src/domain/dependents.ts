import type { Entry } from './entries.ts';
import type { JobsView } from './JobsView.ts';

/**
 * Entries that follow a job's completion: each dependent whose every other
 * dependency is complete leaves `waiting-children`. A dependency counts as
 * complete once the job it named completed, whatever happens to its id later
 * (removed, evicted, or reused by a new job): `view.awaits` knows the
 * difference.
 */
export function resolveDependents(view: JobsView, completedId: string, now: number): Entry[] {
  const entries: Entry[] = [];
  for (const id of view.dependentsOf(completedId)) {
    const dependent = view.job(id);
    if (!dependent || dependent.state !== 'waiting-children') continue;
    const ready = dependent.dependsOn.every((dep) => dep === completedId || !view.awaits(id, dep));
    if (ready) entries.push({ type: 'resolve', at: now, queue: dependent.queue, jobId: dependent.id });
  }
  return entries;
}

/**
 * Entries failing, transitively, every job still waiting on `failedId` and not already in `seen`.
 * Depth-first with an explicit stack, never recursion: a chain can be as long as clients make it
 * (one stack frame per job overflowed at ~6 000 and took the server down).
 */
export function failDependents(view: JobsView, failedId: string, now: number, seen = new Set<string>()): Entry[] {
  const entries: Entry[] = [];
  const stack: Array<{ parentId: string; dependents: Iterator<string> }> = [
    { parentId: failedId, dependents: waitingOn(view, failedId) },
  ];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const next = top.dependents.next();
    if (next.done) {
      stack.pop();
      continue;
    }
    const id = next.value;
    const dependent = view.job(id);
    if (!dependent || dependent.state !== 'waiting-children' || seen.has(id)) continue;
    seen.add(id);
    entries.push({
      type: 'fail',
      at: now,
      queue: dependent.queue,
      jobId: id,
      cause: 'dependency',
      error: `dependency failed: ${top.parentId}`,
      attempts: dependent.attempts,
      retryAt: null,
      prev: dependent.state,
      remove: dependent.removeOnFail,
    });
    stack.push({ parentId: id, dependents: waitingOn(view, id) });
  }
  return entries;
}

/** Dependents of the job now holding `id` that wait on that very job (not on an earlier one with the id). */
function* waitingOn(view: JobsView, id: string): Iterator<string> {
  for (const dependent of view.dependentsOf(id)) if (view.awaits(dependent, id)) yield dependent;
}
