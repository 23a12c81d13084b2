import { type ActorView, actorOf } from '../domain/actor.ts';
import { type Entry, jobIdsOf } from '../domain/entries.ts';
import type { Job, JobState } from '../domain/job.ts';
import { stateStep } from '../domain/stateStep.ts';
import type { Pacer } from './Pacer.ts';

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
 * What the scan keeps of a job: all a state transition depends on. `runAt`
 * stays as pushed: only `resolve` reads it, and a job still waiting for its
 * dependencies never ran, so no retry moved it.
 */
interface Tracked {
  state: JobState;
  queue: string;
  runAt: number;
}

/**
 * The job states of every queue and nothing else, moved entry by entry by
 * the same rule as QueueProjection (stateStep): the `changes` feed reads
 * transitions off it several times faster than applying entries to a whole
 * state, which keeps indexes, heaps and every field of every job.
 */
export class StateChangeScan {
  private readonly jobs = new Map<string, Tracked>();

  private constructor(
    /** The log position whose state this is. */
    public position: number,
  ) {}

  /** The scan at `position`, from the jobs of a state rebuilt there. */
  static async of(jobs: Iterable<Readonly<Job>>, position: number, pacer: Pacer): Promise<StateChangeScan> {
    const scan = new StateChangeScan(position);
    for (const job of jobs) {
      scan.jobs.set(job.id, { state: job.state, queue: job.queue, runAt: job.runAt });
      if (pacer.due()) await pacer.pause();
    }
    return scan;
  }

  /** The transitions `entry` (at `position`, the next one) makes for jobs of `queue`; the scan does not move. */
  changesOf(entry: Entry, position: number, queue: string): StateChange[] {
    const changes: StateChange[] = [];
    const change = (jobId: string, from: JobState | null, to: JobState | null) =>
      changes.push({ jobId, from, to, position, time: entry.at, actor: actorOf(entry) });
    for (const id of jobIdsOf(entry)) {
      const was = this.jobs.get(id);
      const step = stateStep(entry, was?.runAt ?? 0);
      if (step === null) continue;
      if ((was?.queue ?? (entry.type === 'push' ? entry.job.queue : undefined)) !== queue) continue;
      const from = was?.state ?? null;
      if (step.to !== null) {
        if (step.to !== from) change(id, from, step.to);
      } else if (from !== null) {
        if (step.finished !== null && from !== step.finished) {
          change(id, from, step.finished);
          change(id, step.finished, null);
        } else {
          change(id, from, null);
        }
      }
    }
    return changes;
  }

  /** Moves the scan past `entry`, the entry at `position`. */
  apply(entry: Entry, position: number): void {
    this.position = position;
    for (const id of jobIdsOf(entry)) {
      if (entry.type === 'push') {
        this.jobs.set(id, { state: entry.job.state, queue: entry.job.queue, runAt: entry.job.runAt });
        continue;
      }
      const job = this.jobs.get(id);
      if (!job) continue;
      const step = stateStep(entry, job.runAt);
      if (step === null) continue;
      if (step.to === null) {
        this.jobs.delete(id);
        continue;
      }
      job.state = step.to;
    }
  }
}
