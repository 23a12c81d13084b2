/**
 * Point-in-time reads: log time ↔ position (TimeIndex), and the state as of a
 * past position (PointInTimeStates), with the questions the API asks of them.
 *
 * Positions name states: "the state at position p" is the state after the
 * entry at p was applied. "The state at time t" is the state at the last
 * position whose log time is <= t, so it holds every entry decided up to and
 * including t.
 */
import type { Entry } from '../domain/entries.ts';
import { decodeEntry } from '../domain/entryCodec.ts';
import type { Job, JobState } from '../domain/job.ts';
import type { Log } from '../log/Log.ts';
import { PointInTimeStates } from './PointInTimeStates.ts';
import type { StateCounts } from './QueueProjection.ts';
import type { SnapshotStore } from './SnapshotStore.ts';
import { Pacer } from './Pacer.ts';
import { type StateChange, StateChangeScan } from './StateChangeScan.ts';
import type { StoredJob } from './StoredJob.ts';
import { LogTimeline } from './LogTimeline.ts';
import type { TimeIndex, TimedPosition } from './TimeIndex.ts';
import type { TimeIndexFiles } from './TimeIndexFiles.ts';

/** A question that cannot be answered as asked: the API turns it into a 400 with this message (and the retained range). */
export class PointInTimeError extends Error {
  constructor(
    message: string,
    readonly range?: LogRange,
  ) {
    super(message);
  }
}

export interface LogRange {
  first: TimedPosition;
  last: TimedPosition;
}

export interface PointInTimeOptions {
  log: Log;
  snapshots: SnapshotStore;
  /** Where full chunks of the time index are saved between runs (none: read from the log at each start). */
  timeIndexFiles?: TimeIndexFiles;
  /** The server's clock (ms since epoch): a time after it is in the future. */
  now: () => number;
  warn: (message: string) => void;
}

const STATES: JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'waiting-children'];
/** Longest stretch of a `changes` scan or a listing between two turns of the event loop. */
const SLICE_MS = 8;
/** Scans kept between pages; each holds the state of every job (a few bytes each). */
const KEPT_SCANS = 2;

export class PointInTime {
  private readonly timeline: LogTimeline;
  private readonly states: PointInTimeStates;
  /** Scans where the last `changes` pages ended: the next page continues one without a rebuild. */
  private readonly scans: StateChangeScan[] = [];
  /** Resolves once the index covers the whole log (it is built in the background at start). */
  readonly ready: Promise<void>;

  /** Call before any live entry is appended: the build reads the log as it is now. */
  constructor(private readonly options: PointInTimeOptions) {
    this.states = new PointInTimeStates({ log: options.log, snapshots: options.snapshots, warn: options.warn });
    this.timeline = new LogTimeline(options.log, options.timeIndexFiles ?? null, options.warn);
    this.ready = this.timeline.ready;
    this.ready.catch(() => {});
  }

  /** Every entry applied after start (Ledger.onApplied). */
  noteApplied(entry: Entry, position: number): void {
    this.timeline.note(position, entry.at);
  }

  private get index(): TimeIndex {
    return this.timeline.index;
  }

  /** The retained log's first and last positions with their times; throws when the log is empty. */
  async logRange(): Promise<LogRange> {
    await this.ready;
    this.index.dropBefore(this.options.log.firstPosition);
    const range = this.index.range();
    if (range === null) throw new PointInTimeError('the log is empty');
    return range;
  }

  /** The first position whose log time is at or after `time`. */
  async positionAt(time: number): Promise<{ position: number; time: number; range: LogRange }> {
    const range = await this.logRange();
    const position = time < range.first.time || time > range.last.time ? null : this.index.firstAtOrAfter(time);
    if (position === null) throw new PointInTimeError(`${describeTime(time)} is outside the retained log: ${describeRange(range)}`, range);
    return { position, time: this.index.timeOf(position), range };
  }

  /** The position whose state is the state at `time`: the last one decided at or before it. */
  async stateAt(time: number): Promise<TimedPosition> {
    const range = await this.logRange();
    if (time > this.options.now()) throw new PointInTimeError(`${describeTime(time)} is in the future`, range);
    if (time < range.first.time) throw new PointInTimeError(`${describeTime(time)} is before the retained log: ${describeRange(range)}`, range);
    const next = this.index.firstAtOrAfter(time + 1);
    const position = (next ?? range.last.position + 1) - 1;
    return { position, time: this.index.timeOf(position) };
  }

  /** Checks a position given by the client. */
  async statePosition(position: number): Promise<TimedPosition> {
    const range = await this.logRange();
    if (position < range.first.position || position > range.last.position) {
      throw new PointInTimeError(`position ${position} is outside the retained log: ${describeRange(range)}`, range);
    }
    return { position, time: this.index.timeOf(position) };
  }

  /** The job `id` as it was at `position`, or undefined when it did not exist then. */
  async jobAt(id: string, position: number): Promise<Readonly<Job> | undefined> {
    await this.durable(position);
    return this.states.read(position, (state) => {
      const job = state.job(id);
      return job ? { ...job } : undefined;
    });
  }

  /** Counts of every queue at `position`. */
  async queuesAt(position: number): Promise<Record<string, StateCounts>> {
    await this.durable(position);
    return this.states.read(position, (state) => {
      const out: Record<string, StateCounts> = {};
      for (const name of state.queueNames().sort()) out[name] = state.countsOf(name);
      return out;
    });
  }

  /** A queue's counts and one page of its jobs (ordered by push position) at `position`. */
  async queueAt(queue: string, position: number, offset: number, limit: number) {
    await this.durable(position);
    return this.states.read(position, async (state, memo) => {
      const key = `jobs:${queue}`;
      let jobs = memo.get(key) as Readonly<StoredJob>[] | undefined;
      if (!jobs) {
        jobs = await jobsInPushOrder(state.allJobs(), queue);
        memo.set(key, jobs);
      }
      const page = jobs.slice(offset, offset + limit);
      const ids = Object.fromEntries(STATES.map((s) => [s, [] as string[]])) as Record<JobState, string[]>;
      for (const job of page) ids[job.state].push(job.id);
      return { counts: state.countsOf(queue), jobs: ids, next: offset + page.length < jobs.length ? offset + page.length : null };
    });
  }

  /**
   * Transitions of `queue`'s jobs made by the entries after `after` up to
   * `to`, at most about `limit` (one entry's transitions are never split
   * unless the entry alone has more). `skip` transitions of the first entry
   * were already returned (a page that ended inside it). Returns where the
   * next page starts, or null.
   */
  async changes(queue: string, after: number, to: number, skip: number, limit: number): Promise<{ changes: StateChange[]; next: { position: number; skip: number } | null }> {
    await this.durable(to);
    const scan = this.takeScan(after) ?? (await this.states.read(after, (state) => StateChangeScan.of(state.allJobs(), state.position, new Pacer(SLICE_MS))));
    const changes: StateChange[] = [];
    let next: { position: number; skip: number } | null = null;
    const pacer = new Pacer(SLICE_MS);
    try {
      if (scan.position < to) {
        for await (const record of this.options.log.read(scan.position + 1)) {
          if (record.position > to) break;
          if (changes.length >= limit) {
            next = { position: record.position, skip: 0 };
            break;
          }
          const entry = decodeEntry(record.type, record.payload);
          const skipped = record.position === after + 1 ? skip : 0;
          const found = scan.changesOf(entry, record.position, queue).slice(skipped);
          const room = limit - changes.length;
          if (found.length > room) {
            // The page ends inside this entry: the scan stays before it, where the next page starts.
            changes.push(...found.slice(0, room));
            next = { position: record.position, skip: skipped + room };
            break;
          }
          changes.push(...found);
          scan.apply(entry, record.position);
          if (pacer.due()) await pacer.pause();
        }
      }
    } finally {
      this.keepScan(scan);
    }
    return { changes, next };
  }

  // --- internals -------------------------------------------------------------

  /** A scan left where a page ended, taken out so that no other page moves it meanwhile. */
  private takeScan(position: number): StateChangeScan | undefined {
    const found = this.scans.findIndex((scan) => scan.position === position);
    return found < 0 ? undefined : this.scans.splice(found, 1)[0];
  }

  private keepScan(scan: StateChangeScan): void {
    this.scans.unshift(scan);
    if (this.scans.length > KEPT_SCANS) this.scans.length = KEPT_SCANS;
  }

  /** A state may only show what a crash cannot undo. */
  private durable(position: number): Promise<void> {
    return position > this.options.log.durablePosition ? this.options.log.sync(position) : Promise.resolve();
  }
}

function describeTime(time: number): string {
  return `${new Date(time).toISOString()} (${time})`;
}

function describeRange(range: LogRange): string {
  return `positions ${range.first.position} (${new Date(range.first.time).toISOString()}) to ${range.last.position} (${new Date(range.last.time).toISOString()})`;
}

/**
 * The jobs of `queue` sorted by push position, without holding the event loop:
 * collected in slices, and sorted as numbers (a typed array sorts 100 000
 * positions in a few ms, a comparator sort of objects takes ten times that).
 */
async function jobsInPushOrder(all: Iterable<Readonly<StoredJob>>, queue: string): Promise<Readonly<StoredJob>[]> {
  const bySeq = new Map<number, Readonly<StoredJob>>();
  const pacer = new Pacer(SLICE_MS, 1024);
  for (const job of all) {
    if (job.queue === queue) bySeq.set(job.seq, job);
    if (pacer.due()) await pacer.pause();
  }
  const seqs = Float64Array.from(bySeq.keys()).sort();
  return Array.from(seqs, (seq) => bySeq.get(seq) as Readonly<StoredJob>);
}
