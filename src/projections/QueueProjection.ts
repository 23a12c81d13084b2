import type { Entry } from '../domain/entries.ts';
import type { Job, JobState } from '../domain/job.ts';
import { isLive } from '../domain/job.ts';
import type { JobsView } from '../domain/JobsView.ts';
import { resolvedState, retryState } from '../domain/stateStep.ts';
import { IndexedHeap } from './IndexedHeap.ts';
import { ReadyQueue } from './ReadyQueue.ts';
import { type JobValues, jobValues, storedJob } from './jobRecord.ts';
import { heapSlot, type StoredJob, ttlSlot } from './StoredJob.ts';

export type StateCounts = Record<JobState, number>;

/** Everything of the state that is not a job: small, copied whole when a snapshot starts. */
/** Version 3: each record is a chunk of jobs, each job a positional array (jobRecord.ts). */
const SNAPSHOT_VERSION = 3;
/** Jobs per snapshot record: big enough to amortize per-record costs, small enough to encode in ~1 ms. */
const SNAPSHOT_CHUNK = 100;

export interface ProjectionHeader {
  version: number;
  position: number;
  serveClock: number;
  /** [queue, groupId ('' = ungrouped), lastServed] */
  served: Array<[string, string, number]>;
}

export interface ProjectionSnapshot {
  header: ProjectionHeader;
  /** The jobs as they were at `header.position`, read lazily while the state moves on. */
  records: Iterable<JobValues[]>;
  /** Ends the copy-on-write window; reading the records to the end does too. */
  close(): void;
}

/** A snapshot being read: jobs it has not emitted yet are copied before their first change. */
interface OpenSnapshot {
  epoch: number;
  position: number;
  preserved: StoredJob[];
}

interface QueueState {
  name: string;
  ready: ReadyQueue;
  counts: StateCounts;
}

const emptyCounts = (): StateCounts => ({
  waiting: 0,
  delayed: 0,
  active: 0,
  completed: 0,
  failed: 0,
  'waiting-children': 0,
});

const dueBefore = (a: StoredJob, b: StoredJob) => a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq);
const leaseEnd = (job: StoredJob) => job.leaseUntil ?? Infinity;
const leaseBefore = (a: StoredJob, b: StoredJob) => leaseEnd(a) < leaseEnd(b);
const ttlEnd = (job: StoredJob) => job.createdAt + (job.ttl ?? Infinity);
const ttlBefore = (a: StoredJob, b: StoredJob) => ttlEnd(a) < ttlEnd(b);

/**
 * The current state of every queue, folded from log entries. `apply` only
 * carries out what an entry says; all choices were made when it was decided.
 */
export class QueueProjection implements JobsView {
  private readonly jobs = new Map<string, StoredJob>();
  private readonly queues = new Map<string, QueueState>();
  private readonly delayed = new IndexedHeap<StoredJob>(dueBefore, heapSlot);
  private readonly leases = new IndexedHeap<StoredJob>(leaseBefore, heapSlot);
  /** Never-started jobs with a ttl, by expiry. */
  private readonly ttls = new IndexedHeap<StoredJob>(ttlBefore, ttlSlot);
  /** Finished jobs in the order they finished, for retention. */
  private readonly retiredJobs = { completed: new Map<string, StoredJob>(), failed: new Map<string, StoredJob>() };
  private readonly uniqueKeys = new Map<string, string>();
  /** Dependency id → jobs pushed while that job was retained and not completed. Emptied when it completes or leaves. */
  private readonly dependents = new Map<string, Set<string>>();
  /** Counts pulls; orders groups by how recently they were served. */
  private serveClock = 0;
  private openSnapshot: OpenSnapshot | null = null;
  private snapshotEpochs = 0;
  /** Queues that gained a ready job since the last `takeReadyQueues`. */
  private readonly readied = new Set<string>();
  /**
   * Jobs removed (cancel, evict, remove on finish) by entries that may not be
   * durable yet: id → position of the removal, in position order. A "not
   * found" waits for that position; `forgetRemovalsThrough` drops what is on disk.
   */
  private readonly removals = new Map<string, number>();
  position = 0;

  apply(entry: Entry, position: number): void {
    this.position = position;
    switch (entry.type) {
      case 'push':
        return this.applyPush(entry.job, position);
      case 'duplicate':
        return;
      case 'pull': {
        const job = this.mustGet(entry.jobId);
        this.serveClock++;
        this.queue(job.queue).ready.take(job, this.serveClock);
        this.ttls.remove(job);
        job.startedAt = entry.at;
        job.token = entry.token;
        job.leaseUntil = entry.leaseUntil;
        this.move(job, 'active');
        return;
      }
      case 'progress': {
        const job = this.mustGet(entry.jobId);
        job.progress = entry.progress;
        if (entry.message !== null) job.progressMessage = entry.message;
        job.leaseUntil = entry.leaseUntil;
        this.leases.update(job);
        return;
      }
      case 'ack': {
        const job = this.mustGet(entry.jobId);
        job.result = entry.result;
        job.completedAt = entry.at;
        job.progress = 100;
        job.endedAt = entry.at;
        this.endLease(job);
        this.move(job, 'completed');
        // Its dependents no longer wait for it (the resolve entries that follow were decided already).
        this.dependents.delete(job.id);
        if (entry.remove) this.drop(job);
        return;
      }
      case 'fail': {
        const job = this.mustGet(entry.jobId);
        job.attempts = entry.attempts;
        job.error = entry.error;
        this.endLease(job);
        if (entry.retryAt !== null) {
          job.runAt = entry.retryAt;
          this.move(job, retryState(entry.retryAt, entry.at));
        } else {
          job.endedAt = entry.at;
          this.move(job, 'failed');
          if (entry.remove) this.drop(job);
        }
        return;
      }
      case 'release': {
        // Attempts and runAt stay: the job re-enters the ready heap at its original place.
        const job = this.mustGet(entry.jobId);
        this.endLease(job);
        return this.move(job, 'waiting');
      }
      case 'cancel':
        return this.drop(this.mustGet(entry.jobId));
      case 'evict':
        for (const id of entry.jobIds) this.drop(this.mustGet(id));
        return;
      case 'promote':
        return this.move(this.mustGet(entry.jobId), 'waiting');
      case 'resolve': {
        const job = this.mustGet(entry.jobId);
        return this.move(job, resolvedState(job.runAt, entry.at));
      }
    }
  }

  // ---- JobsView ----

  job(id: string): Readonly<Job> | undefined {
    return this.jobs.get(id);
  }

  uniqueHolder(queue: string, key: string): string | undefined {
    return this.uniqueKeys.get(uniqueKeyOf(queue, key));
  }

  nextReady(queue: string): Readonly<Job> | undefined {
    return this.queues.get(queue)?.ready.peek();
  }

  readyCount(queue: string): number {
    return this.queues.get(queue)?.ready.size ?? 0;
  }

  /** Log position of the last entry that changed or removed job `id`; 0 when none since this process started. */
  lastChangeOf(id: string): number {
    return this.jobs.get(id)?.changedAt ?? this.removals.get(id) ?? 0;
  }

  /** Forgets the removals at or before `position`, once the log is durable up to it. */
  forgetRemovalsThrough(position: number): void {
    if (this.removals.size === 0) return;
    for (const [id, removedAt] of this.removals) {
      if (removedAt > position) return;
      this.removals.delete(id);
    }
  }

  dependentsOf(id: string): Iterable<string> {
    return this.dependents.get(id) ?? [];
  }

  awaits(dependentId: string, dependencyId: string): boolean {
    const dependency = this.jobs.get(dependencyId);
    if (!dependency || dependency.state === 'completed') return false;
    // Push order tells incarnations apart: a job pushed after the dependent reuses the id of the one it named.
    const dependent = this.jobs.get(dependentId);
    return dependent === undefined || dependency.seq < dependent.seq;
  }

  dueDelayed(now: number, limit: number): Readonly<Job>[] {
    return this.delayed.collect((job) => job.runAt <= now, limit);
  }

  retired(state: 'completed' | 'failed') {
    const jobs = this.retiredJobs[state];
    return {
      count: jobs.size,
      *oldest() {
        for (const job of jobs.values()) yield { id: job.id, endedAt: job.endedAt ?? 0 };
      },
    };
  }

  expiredLeases(now: number, limit: number): Readonly<Job>[] {
    return this.leases.collect((job) => leaseEnd(job) <= now, limit);
  }

  expiredTtls(now: number, limit: number): Readonly<Job>[] {
    return this.ttls.collect((job) => ttlEnd(job) <= now, limit);
  }

  // ---- queries ----

  /** Earliest time at which the scheduler has something to decide, or null. */
  nextDeadline(): number | null {
    const lease = this.leases.peek();
    const ttl = this.ttls.peek();
    const next = Math.min(this.delayed.peek()?.runAt ?? Infinity, lease ? leaseEnd(lease) : Infinity, ttl ? ttlEnd(ttl) : Infinity);
    return next === Infinity ? null : next;
  }

  /** Queues that gained ready jobs since the last call (pullers may be waiting on them). */
  takeReadyQueues(): string[] {
    if (this.readied.size === 0) return [];
    const queues = [...this.readied];
    this.readied.clear();
    return queues;
  }

  countsOf(queue: string): StateCounts {
    return { ...(this.queues.get(queue)?.counts ?? emptyCounts()) };
  }

  totals(): StateCounts {
    const total = emptyCounts();
    for (const { counts } of this.queues.values()) {
      for (const state of Object.keys(total) as JobState[]) total[state] += counts[state];
    }
    return total;
  }

  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /** Every retained job, in no particular order (point-in-time listings sort them). */
  allJobs(): IterableIterator<Readonly<StoredJob>> {
    return this.jobs.values();
  }

  get jobCount(): number {
    return this.jobs.size;
  }

  // ---- snapshots ----

  /**
   * The state at the current position, without stopping the world: the
   * header is copied now; jobs are read lazily, and a job about to change
   * before it was read is copied first. One snapshot at a time; it ends when
   * its records have been read to the end.
   */
  snapshot(chunkSize = SNAPSHOT_CHUNK): ProjectionSnapshot {
    if (this.openSnapshot) throw new Error('a snapshot is already being taken');
    const open: OpenSnapshot = { epoch: ++this.snapshotEpochs, position: this.position, preserved: [] };
    this.openSnapshot = open;
    const served: Array<[string, string, number]> = [];
    for (const [name, queue] of this.queues) for (const [group, at] of queue.ready.servedMarks()) served.push([name, group, at]);
    const header: ProjectionHeader = { version: SNAPSHOT_VERSION, position: this.position, serveClock: this.serveClock, served };
    return {
      header,
      records: this.snapshotRecords(open, chunkSize),
      close: () => {
        if (this.openSnapshot === open) this.openSnapshot = null;
      },
    };
  }

  /** Jobs in chunks of `chunkSize`: one stored record (and one parse at restore) per chunk, not per job. */
  private *snapshotRecords(open: OpenSnapshot, chunkSize: number): Generator<JobValues[]> {
    let chunk: JobValues[] = [];
    try {
      for (const job of this.jobs.values()) {
        while (open.preserved.length > 0) chunk.push(jobValues(open.preserved.pop() as StoredJob));
        if (job.seq <= open.position && job.snapshotEpoch !== open.epoch) {
          job.snapshotEpoch = open.epoch;
          chunk.push(jobValues(job));
        }
        if (chunk.length >= chunkSize) {
          yield chunk;
          chunk = [];
        }
      }
      while (open.preserved.length > 0) chunk.push(jobValues(open.preserved.pop() as StoredJob));
      if (chunk.length > 0) yield chunk;
    } finally {
      if (this.openSnapshot === open) this.openSnapshot = null;
    }
  }

  /** Rebuilds a state from a snapshot; the log entries after `header.position` are then applied as usual. */
  static async restore(header: ProjectionHeader, records: AsyncIterable<unknown> | Iterable<unknown>): Promise<QueueProjection> {
    if (header.version !== SNAPSHOT_VERSION) throw new Error(`unsupported snapshot version ${String(header.version)}`);
    const projection = new QueueProjection();
    projection.position = header.position;
    projection.serveClock = header.serveClock;
    for (const [queue, group, at] of header.served) projection.queue(queue).ready.restoreServedMark(group, at);
    for await (const chunk of records) for (const values of chunk as JobValues[]) projection.insert(storedJob(values));
    // Records come in no particular order: link dependents once every job is in.
    for (const job of projection.jobs.values()) projection.linkDependencies(job);
    // Older snapshots carried served marks of queues that had no job left.
    for (const [name, queue] of projection.queues) if (jobsIn(queue) === 0) projection.queues.delete(name);
    projection.readied.clear();
    // Records arrive in snapshot order, not finish order: retention needs the latter.
    for (const retired of Object.values(projection.retiredJobs)) {
      const byEnd = [...retired.values()].sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
      retired.clear();
      for (const job of byEnd) retired.set(job.id, job);
    }
    return projection;
  }

  // ---- transitions ----

  private applyPush(source: Job, position: number): void {
    const job = storedJob(jobValues(source));
    job.seq = position;
    job.changedAt = position;
    this.removals.delete(job.id);
    this.insert(job);
    this.linkDependencies(job);
  }

  /** Adds a job in whatever state it is, with every index that state implies. */
  private insert(job: StoredJob): void {
    // One string per queue name, not one per job (JSON.parse makes a fresh one each time).
    job.queue = this.queue(job.queue).name;
    this.jobs.set(job.id, job);
    const live = isLive(job.state);
    if (live && job.ttl !== null && job.startedAt === null) this.ttls.push(job);
    if (live && job.uniqueKey) this.uniqueKeys.set(uniqueKeyOf(job.queue, job.uniqueKey), job.id);
    this.enter(job, job.state);
  }

  /** Indexes `job` under each dependency it still awaits: the dependents index never points at a later job reusing an id. */
  private linkDependencies(job: StoredJob): void {
    for (const dependency of job.dependsOn) {
      if (!this.awaits(job.id, dependency)) continue;
      let set = this.dependents.get(dependency);
      if (!set) this.dependents.set(dependency, (set = new Set()));
      set.add(job.id);
    }
  }

  /** Moves a job between states, keeping indexes, counts and unique keys in step. */
  private move(job: StoredJob, state: JobState): void {
    this.leave(job);
    this.enter(job, state);
  }

  private leave(job: StoredJob): void {
    const queue = this.queue(job.queue);
    if (job.state === 'waiting') queue.ready.remove(job);
    else if (job.state === 'delayed') this.delayed.remove(job);
    else if (job.state === 'active') this.leases.remove(job);
    else if (job.state === 'completed' || job.state === 'failed') this.retiredJobs[job.state].delete(job.id);
    queue.counts[job.state]--;
  }

  private enter(job: StoredJob, state: JobState): void {
    const queue = this.queue(job.queue);
    job.state = state;
    queue.counts[state]++;
    if (state === 'waiting') {
      queue.ready.add(job);
      this.readied.add(job.queue);
    } else if (state === 'delayed') {
      this.delayed.push(job);
    } else if (state === 'active') {
      this.leases.push(job);
    } else if (state === 'completed' || state === 'failed') {
      this.retiredJobs[state].set(job.id, job);
    }
    if (!isLive(state)) {
      this.releaseUniqueKey(job);
      this.ttls.remove(job);
    }
  }

  /** The job leaves the state; its history stays in the log. A queue left without jobs is forgotten. */
  private drop(job: StoredJob): void {
    this.leave(job);
    const queue = this.queue(job.queue);
    if (jobsIn(queue) === 0) this.queues.delete(queue.name);
    this.releaseUniqueKey(job);
    this.ttls.remove(job);
    this.jobs.delete(job.id);
    this.removals.set(job.id, this.position);
    for (const dependency of job.dependsOn) {
      const set = this.dependents.get(dependency);
      set?.delete(job.id);
      if (set?.size === 0) this.dependents.delete(dependency);
    }
    this.dependents.delete(job.id);
  }

  private endLease(job: StoredJob): void {
    job.token = null;
    job.leaseUntil = null;
  }

  private releaseUniqueKey(job: StoredJob): void {
    if (!job.uniqueKey) return;
    const key = uniqueKeyOf(job.queue, job.uniqueKey);
    if (this.uniqueKeys.get(key) === job.id) this.uniqueKeys.delete(key);
  }

  private queue(name: string): QueueState {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = { name, ready: new ReadyQueue(), counts: emptyCounts() }));
    return queue;
  }

  /**
   * The job an entry changes. Every change of an existing job goes through
   * here, so snapshots copy on write here and the job's last change is noted here.
   */
  private mustGet(id: string): StoredJob {
    const job = this.jobs.get(id);
    // An entry naming a job the state does not have means the log and the fold disagree: stop, don't guess.
    if (!job) throw new Error(`Log entry refers to unknown job ${id}`);
    const snapshot = this.openSnapshot;
    if (snapshot && job.snapshotEpoch !== snapshot.epoch && job.seq <= snapshot.position) {
      snapshot.preserved.push({ ...job });
      job.snapshotEpoch = snapshot.epoch;
    }
    job.changedAt = this.position;
    return job;
  }
}

/** Jobs of a queue in any state: none left means nothing of the queue needs remembering. */
function jobsIn(queue: QueueState): number {
  const { counts } = queue;
  return counts.waiting + counts.delayed + counts.active + counts.completed + counts.failed + counts['waiting-children'];
}

function uniqueKeyOf(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}
