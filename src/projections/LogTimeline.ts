/**
 * The time index of the retained log, kept up to date: built at start from
 * the chunks saved by earlier runs (TimeIndexFiles) and the log where none
 * fits, then fed every live entry; each chunk that fills up is saved once
 * the log is durable through it, so the next start reads only the log's tail.
 *
 * Saved chunks are a cache: files past the log's end are deleted at start
 * (a crash cut the log below them), the last chunk of every run loaded is
 * checked against the log entry at its end, and on a mismatch (the files
 * belong to another log) they are all dropped and the index is read from
 * the log.
 */
import type { Log } from '../log/Log.ts';
import { Pacer } from './Pacer.ts';
import { entryTime, TimeIndex } from './TimeIndex.ts';
import type { TimeIndexFiles } from './TimeIndexFiles.ts';

/** Longest stretch of reading between two turns of the event loop. */
const SLICE_MS = 8;

class StaleTimeIndex extends Error {}

export class LogTimeline {
  private built = new TimeIndex();
  /** Live entries noted while the index is being built. */
  private pending: Array<[number, number]> | null = [];
  private saving: Promise<void> = Promise.resolve();
  /** Chunks read from files at start: already saved. */
  private loaded = 0;
  /** Resolves once the index covers the whole log. */
  readonly ready: Promise<void>;

  /** Call before any live entry is appended: the build covers the log as it is now. */
  constructor(
    private readonly log: Log,
    private files: TimeIndexFiles | null,
    private readonly warn: (message: string) => void,
  ) {
    this.ready = this.build();
  }

  /** The index; complete once `ready` resolved. */
  get index(): TimeIndex {
    return this.built;
  }

  /** Chunks loaded from files by the build (the rest came from the log). */
  get chunksLoaded(): number {
    return this.loaded;
  }

  /** Every entry applied after start. */
  note(position: number, at: number): void {
    if (this.pending) {
      this.pending.push([position, at]);
      return;
    }
    this.built.note(position, at);
    const n = TimeIndex.chunkOf(position);
    if (position === TimeIndex.chunkEnd(n)) this.save(n);
  }

  /** Resolves when the chunks sealed so far are saved (or failed to be). */
  saved(): Promise<void> {
    return this.saving;
  }

  private async build(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.pending = [];
      // Taken in the same turn as `pending` was emptied: the build covers up to here, `pending` what follows.
      const last = this.log.lastPosition;
      try {
        const index = new TimeIndex();
        const loaded = await this.fill(index, last);
        for (const [position, at] of this.pending) index.note(position, at);
        this.built = index;
        this.pending = null;
        this.loaded = loaded.size;
        const lastIndexed = index.range()?.last.position ?? 0;
        for (let n = TimeIndex.chunkOf(this.log.firstPosition); TimeIndex.chunkEnd(n) <= lastIndexed; n++) {
          if (!loaded.has(n)) this.save(n);
        }
        return;
      } catch (err) {
        if (err instanceof StaleTimeIndex && this.files) {
          this.warn(`time index: ${err.message}; reading it from the log`);
          // Emptied, the directory is filled again from this log; if it cannot be emptied, it is left alone.
          if (!(await this.files.clear().then(() => true, () => false))) this.files = null;
          continue;
        }
        // Retention may delete a segment under the read: read again from the new start.
        if (attempt >= 3) {
          this.pending = null;
          this.warn(`time index not built: ${(err as Error).message}`);
          throw err;
        }
        this.warn(`time index: reading the log failed (${(err as Error).message}); reading it again`);
      }
    }
  }

  /** Fills `index` with the positions from the log's first to `last`: saved chunks where they fit, the log elsewhere. */
  private async fill(index: TimeIndex, last: number): Promise<Set<number>> {
    const saved = await this.usableChunks(last);
    const loaded = new Set<number>();
    const pacer = new Pacer(SLICE_MS, 1024);
    /** Last position of the chunk just loaded: checked against the log before reading on. */
    let check: number | null = null;
    let p = this.log.firstPosition;
    let i = 0;
    while (p <= last) {
      const n = TimeIndex.chunkOf(p);
      while (i < saved.length && (saved[i] as number) < n) i++;
      if (saved[i] === n) {
        i++;
        const bytes = p === TimeIndex.chunkStart(n) || index.range() === null ? await this.files?.read(n) : null;
        if (bytes) {
          index.restoreChunk(n, bytes);
          loaded.add(n);
          check = TimeIndex.chunkEnd(n);
          p = check + 1;
          continue;
        }
      }
      const stop = i < saved.length ? Math.min(last, TimeIndex.chunkStart(saved[i] as number) - 1) : last;
      await this.readLog(index, p, stop, check, pacer);
      check = null;
      p = stop + 1;
    }
    if (check !== null) await this.readLog(index, p, check, check, pacer);
    index.dropBefore(this.log.firstPosition);
    return loaded;
  }

  /** Notes the log's entries from `from` to `stop`; first checks the one at `check` (just before `from`), when given. */
  private async readLog(index: TimeIndex, from: number, stop: number, check: number | null, pacer: Pacer): Promise<void> {
    for await (const record of this.log.read(check ?? from)) {
      if (record.position > stop) break;
      if (record.position === check) this.checkAgainstLog(index, check, entryTime(record.payload));
      else index.note(record.position, entryTime(record.payload));
      if (pacer.due()) await pacer.pause();
    }
  }

  /** Saved chunk numbers within the log, ascending; files of chunks before the log or past `last` are deleted. */
  private async usableChunks(last: number): Promise<number[]> {
    if (!this.files) return [];
    const first = TimeIndex.chunkOf(this.log.firstPosition);
    const usable: number[] = [];
    for (const n of await this.files.list()) {
      if (n < first || TimeIndex.chunkEnd(n) > last) await this.files.delete(n);
      else usable.push(n);
    }
    return usable;
  }

  /** The saved time of `position` must be what the log's entry there gives it. */
  private checkAgainstLog(index: TimeIndex, position: number, at: number): void {
    const expected = Math.max(index.timeOf(position - 1), at);
    const found = index.timeOf(position);
    if (found !== expected) throw new StaleTimeIndex(`the saved chunk ending at position ${position} says ${found}, the log ${expected}`);
  }

  private save(n: number): void {
    const files = this.files;
    if (!files) return;
    const end = TimeIndex.chunkEnd(n);
    this.saving = this.saving
      .then(async () => {
        // Only what a crash cannot undo: a saved chunk never outlives the entries it describes.
        await this.log.sync(end);
        const bytes = this.built.exportChunk(n);
        if (bytes === null) return;
        await files.write(n, bytes);
        await files.deleteBefore(TimeIndex.chunkOf(this.log.firstPosition));
      })
      .catch((err: unknown) => this.warn(`time index: chunk ${n} not saved: ${(err as Error).message}`));
  }
}
