/**
 * The state of every queue as it was at a past log position, rebuilt
 * read-only: the nearest snapshot at or before the position, plus the log
 * from there up to it, folded into a fresh QueueProjection that the live
 * state never sees.
 *
 * Cost budget: replay runs in slices of at most SLICE_MS and then yields to
 * the event loop, so live requests wait at most a slice; rebuilds run one at
 * a time (each holds a whole state in memory). The last few states built are
 * kept, so the pages of one point in time cost no rebuild.
 */
import { decodeEntry } from '../domain/entryCodec.ts';
import type { Log } from '../log/Log.ts';
import { Pacer } from './Pacer.ts';
import { type ProjectionHeader, QueueProjection } from './QueueProjection.ts';
import type { SnapshotStore } from './SnapshotStore.ts';

/** Longest stretch of replay between two yields to the event loop. */
const SLICE_MS = 4;
/** States kept after a rebuild. Each holds every job of its time: a few, not many. */
const CACHED_STATES = 3;

export interface PointInTimeDeps {
  log: Log;
  snapshots: SnapshotStore;
  /** Failures worth a log line (a damaged snapshot skipped). */
  warn: (message: string) => void;
}

/** A rebuilt state. */
interface Built {
  state: QueueProjection;
  /** Derived data computed once per state (sorted job ids of a queue, ...), dropped when the state moves. */
  memo: Map<string, unknown>;
}

export class PositionNotRebuildable extends Error {
  constructor(
    readonly position: number,
    readonly from: number,
    readonly to: number,
  ) {
    super(`position ${position} cannot be rebuilt: the log and snapshots cover positions ${from} to ${to}`);
  }
}

export class PointInTimeStates {
  private readonly cache: Built[] = [];
  /** Rebuilds run one at a time: each may hold a whole state. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: PointInTimeDeps) {}

  /**
   * The oldest and newest positions a state can be rebuilt at: from the
   * start of the log when it was never trimmed, else from the oldest
   * snapshot the retained log continues.
   */
  async rebuildableRange(): Promise<{ from: number; to: number }> {
    const { log } = this.deps;
    if (log.firstPosition <= 1) return { from: 0, to: log.lastPosition };
    const bases = (await this.deps.snapshots.list()).filter((s) => s.position + 1 >= log.firstPosition);
    const oldest = bases.length > 0 ? bases[bases.length - 1].position : log.lastPosition + 1;
    return { from: Math.max(oldest, log.firstPosition - 1), to: log.lastPosition };
  }

  /** Runs `read` on the state as of `position` (after its entry), exclusively: nothing moves it meanwhile. */
  read<T>(position: number, read: (state: QueueProjection, memo: Map<string, unknown>) => T | Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const built = await this.build(position);
      this.remember(built);
      return read(built.state, built.memo);
    });
  }

  // --- internals -------------------------------------------------------------

  /** Applies the log entries after `state.position` up to `to`, in slices. */
  private async replay(state: QueueProjection, to: number): Promise<void> {
    if (state.position >= to) return;
    const pacer = new Pacer(SLICE_MS);
    for await (const record of this.deps.log.read(state.position + 1)) {
      if (record.position > to) break;
      state.apply(decodeEntry(record.type, record.payload), record.position);
      state.forgetRemovalsThrough(record.position);
      if (pacer.due()) await pacer.pause();
    }
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The state at `position`: a cached one if it fits, else the nearest base moved forward. Taken out of the cache. */
  private async build(position: number): Promise<Built> {
    const range = await this.rebuildableRange();
    if (position < range.from || position > range.to) throw new PositionNotRebuildable(position, range.from, range.to);
    const exact = this.cache.findIndex((b) => b.state.position === position);
    if (exact >= 0) return this.cache.splice(exact, 1)[0];
    // The closest cached state before the position is as good a base as a snapshot, and already in memory.
    let cachedBase = -1;
    for (let i = 0; i < this.cache.length; i++) {
      const p = this.cache[i].state.position;
      if (p < position && (cachedBase < 0 || p > this.cache[cachedBase].state.position)) cachedBase = i;
    }
    const snapshot = (await this.deps.snapshots.list()).find((s) => s.position <= position && s.position + 1 >= this.deps.log.firstPosition);
    let state: QueueProjection;
    if (cachedBase >= 0 && this.cache[cachedBase].state.position >= (snapshot?.position ?? 0)) {
      state = this.cache.splice(cachedBase, 1)[0].state;
    } else {
      state = await this.restore(position);
    }
    await this.replay(state, position);
    if (state.position !== position) throw new Error(`rebuild stopped at position ${state.position}, not ${position}`);
    return { state, memo: new Map() };
  }

  /** The newest snapshot at or before `position` that loads, else an empty state (only when the log starts at 1). */
  private async restore(position: number): Promise<QueueProjection> {
    const { log, snapshots, warn } = this.deps;
    for (const info of await snapshots.list()) {
      if (info.position > position || info.position + 1 < log.firstPosition) continue;
      try {
        const { header, records } = await snapshots.load(info.position);
        return await QueueProjection.restore(header as ProjectionHeader, paced(records));
      } catch (err) {
        // Pruned meanwhile, damaged, or an old format: an older one (or the log from 1) will do.
        warn(`point in time: snapshot at position ${info.position} not used: ${(err as Error).message}`);
      }
    }
    if (log.firstPosition > 1) {
      const range = await this.rebuildableRange();
      throw new PositionNotRebuildable(position, range.from, range.to);
    }
    return new QueueProjection();
  }

  private remember(built: Built): void {
    this.cache.unshift(built);
    if (this.cache.length > CACHED_STATES) this.cache.length = CACHED_STATES;
  }
}

/**
 * Snapshot records with a turn of the event loop every SLICE_MS: the store
 * hands out a thousand records (100 000 jobs) per read, and restoring them
 * without a pause would hold live requests for that long.
 */
async function* paced(records: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  const pacer = new Pacer(SLICE_MS, 1);
  for await (const record of records) {
    yield record;
    if (pacer.due()) await pacer.pause();
  }
}
