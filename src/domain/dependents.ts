import type { Entry } from './entries.ts';
import type { JobsView } from './JobsView.ts';

/**
 * Entries that follow a job's completion: each dependent whose every other
 * dependency is complete leaves `waiting-children`. A dependency missing from
 * the state left it by completing (removeOnComplete, retention): a failed or
 * cancelled one failed its dependents when it happened.
 */
export function resolveDependents(view: JobsView, completedId: string, now: number): Entry[] {
  const entries: Entry[] = [];
  for (const id of view.dependentsOf(completedId)) {
    const dependent = view.job(id);
    if (!dependent || dependent.state !== 'waiting-children') continue;
    const ready = dependent.dependsOn.every((dep) => dep === completedId || (view.job(dep)?.state ?? 'completed') === 'completed');
    if (ready) entries.push({ type: 'resolve', at: now, queue: dependent.queue, jobId: dependent.id });
  }
  return entries;
}

/** Entries failing, transitively, every job still waiting on `failedId` and not already in `seen`. */
export function failDependents(view: JobsView, failedId: string, now: number, seen = new Set<string>()): Entry[] {
  const entries: Entry[] = [];
  const visit = (parentId: string) => {
    for (const id of view.dependentsOf(parentId)) {
      const dependent = view.job(id);
      if (!dependent || dependent.state !== 'waiting-children' || seen.has(id)) continue;
      seen.add(id);
      entries.push({
        type: 'fail',
        at: now,
        queue: dependent.queue,
        jobId: id,
        cause: 'dependency',
        error: `dependency failed: ${parentId}`,
        attempts: dependent.attempts,
        retryAt: null,
        prev: dependent.state,
        remove: dependent.removeOnFail,
      });
      visit(id);
    }
  };
  visit(failedId);
  return entries;
}
