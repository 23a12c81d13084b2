import type { RetentionPolicy } from './DecideContext.ts';
import type { JobsView } from './JobsView.ts';

/**
 * Finished jobs due to leave memory: those finished longer ago than the
 * retention age, and the oldest ones over the count limit. Over the limit it
 * trims to 90% of it, so a steady stream of completions costs one eviction
 * entry per many jobs rather than one per job.
 */
export function evictable(view: JobsView, policy: RetentionPolicy, now: number, limit: number): string[] {
  const ids: string[] = [];
  for (const [state, ageMs, max] of [
    ['completed', policy.completedMs, policy.completedMax],
    ['failed', policy.failedMs, policy.failedMax],
  ] as const) {
    const retired = view.retired(state);
    const excess = retired.count > max ? retired.count - Math.floor(max * 0.9) : 0;
    let taken = 0;
    for (const { id, endedAt } of retired.oldest()) {
      if (ids.length >= limit || (taken >= excess && endedAt + ageMs > now)) break;
      ids.push(id);
      taken++;
    }
  }
  return ids;
}

/** When retention next has work, given the state now: the oldest finish plus its age, or now if over a limit. */
export function nextEviction(view: JobsView, policy: RetentionPolicy): number | null {
  let next: number | null = null;
  for (const [state, ageMs, max] of [
    ['completed', policy.completedMs, policy.completedMax],
    ['failed', policy.failedMs, policy.failedMax],
  ] as const) {
    const retired = view.retired(state);
    if (retired.count === 0) continue;
    if (retired.count > max) return 0;
    for (const { endedAt } of retired.oldest()) {
      if (endedAt + ageMs < Infinity) next = Math.min(next ?? Infinity, endedAt + ageMs);
      break;
    }
  }
  return next;
}
