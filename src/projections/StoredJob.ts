import type { Job } from '../domain/job.ts';

/** A job as the projection holds it: the domain's fields plus where it sits in the indexes. */
export interface StoredJob extends Job {
  /** Log position of the push entry: the push order. */
  seq: number;
  /** When the job completed or failed for good: the clock of its retention. */
  endedAt: number | null;
  /** Index in whichever heap holds the job for its state (ready, delayed, leases); -1 when none. */
  heapIndex: number;
  /** Index in the ttl heap while the job has a ttl and was never started; -1 otherwise. */
  ttlIndex: number;
  /** Number of the last snapshot that already holds this job's state (copy-on-write marker). */
  snapshotEpoch: number;
  /**
   * Log position of the last entry that changed the job: an answer that reports
   * the job waits until the log is durable up to it. Not snapshotted: 0 after a
   * restore, since everything a restart loads is on disk.
   */
  changedAt: number;
}

export const heapSlot = {
  get: (job: StoredJob) => job.heapIndex,
  set: (job: StoredJob, index: number) => {
    job.heapIndex = index;
  },
};

export const ttlSlot = {
  get: (job: StoredJob) => job.ttlIndex,
  set: (job: StoredJob, index: number) => {
    job.ttlIndex = index;
  },
};

/** Pull order inside a group: priority, then LIFO newest first, then FIFO by runAt and push order. */
export function runsBefore(a: StoredJob, b: StoredJob): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.lifo !== b.lifo) return a.lifo;
  if (a.lifo) return a.seq > b.seq;
  if (a.runAt !== b.runAt) return a.runAt < b.runAt;
  return a.seq < b.seq;
}
