import type { Job } from './job.ts';

/** What the rules may read of the current state. The projection implements it; decisions never mutate it. */
export interface JobsView {
  job(id: string): Readonly<Job> | undefined;
  /** Id of the live job holding `key` in `queue`. */
  uniqueHolder(queue: string, key: string): string | undefined;
  /** The job the next pull of `queue` takes, by the ordering rules. */
  nextReady(queue: string): Readonly<Job> | undefined;
  readyCount(queue: string): number;
  /** Ids of retained jobs listing `id` in their dependsOn (may include jobs that named an earlier job with the id: see `awaits`). */
  dependentsOf(id: string): Iterable<string>;
  /**
   * Whether the job `dependentId` still waits for its dependency `dependencyId`:
   * the very job it named is retained and has not completed. A job pushed later
   * under the same id is another job; a dependency that left the state left it
   * by completing (a failed or cancelled one already failed its dependents).
   */
  awaits(dependentId: string, dependencyId: string): boolean;
  /** Delayed jobs with runAt <= now, at most `limit`. */
  dueDelayed(now: number, limit: number): Readonly<Job>[];
  /** Active jobs whose lease ended at or before `now`, at most `limit`. */
  expiredLeases(now: number, limit: number): Readonly<Job>[];
  /** Finished jobs still in memory, in the order they finished. */
  retired(state: 'completed' | 'failed'): { count: number; oldest(): Iterable<{ id: string; endedAt: number }> };
  /** Jobs never started whose createdAt + ttl is at or before `now`, at most `limit`. */
  expiredTtls(now: number, limit: number): Readonly<Job>[];
}
