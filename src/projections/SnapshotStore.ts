/**
 * Snapshots of the projection state at a log position, in their own LevelDB
 * directory, so that a restart loads the newest valid snapshot and replays
 * only the log after it. The store knows nothing about jobs: a snapshot is an
 * opaque JSON header plus a stream of opaque JSON records (up to millions).
 *
 * Crash safety: records are written first (invisible), then the commit
 * marker alone in a synced write; only snapshots with a marker exist for
 * `list`/`load`. A crash mid-write leaves records without a marker, which
 * `prune` deletes. Every load is verified against the marker (count, bytes,
 * checksum), so even a snapshot whose records the disk lost is never used.
 *
 * Layout: see snapshotKeys.ts. Writes, prunes and removals run one at a
 * time (an internal queue), so a prune never mistakes a snapshot being
 * written for a crash leftover; loads run alongside them.
 */
import { Level } from 'level';
import { SnapshotDamagedError } from './SnapshotDamagedError.ts';
import { MARKER_FENCE, MARKER_RANGE, markerKey, positionOfMarkerKey, RECORD_KEYS, recordRange } from './snapshotKeys.ts';
import { decodeMarker, encodeMarker, headerChecksum, MARKER_VERSION, type SnapshotMarker } from './snapshotMarker.ts';
import { SnapshotRecordStream } from './SnapshotRecordStream.ts';
import { SnapshotRecordWriter } from './SnapshotRecordWriter.ts';
import { VerifiedStream } from './VerifiedStream.ts';

export interface SnapshotInfo {
  /** Log position the snapshot reflects: replay resumes after it. */
  position: number;
  /** When it was taken (ms since the epoch, as given to `write`). */
  takenAt: number;
  /** Number of records. */
  records: number;
  /** UTF-8 bytes of the header and records JSON (not the size on disk). */
  bytes: number;
}

export interface SnapshotStoreOptions {
  /** Skipped snapshots and ignored markers (default: process.emitWarning). */
  onWarning?: (message: string) => void;
}

export type SnapshotConsumer = (header: unknown, records: AsyncIterable<unknown>, info: SnapshotInfo) => Promise<void>;

/**
 * Never a key of the store (keys start with 'm:' or 'r:'): compacting this
 * empty range makes LevelDB flush its memtable and do nothing else.
 */
const FLUSH_PROBE_KEY = '~';

/** On Node, `level` is classic-level; the `level` typings leave out these two of its methods. */
interface ClassicLevelExtras {
  compactRange(start: string, end: string): Promise<void>;
  /** Bytes the range's data takes in LevelDB's table files (not counting the memtable). */
  approximateSize(start: string, end: string): Promise<number>;
}

function infoOf(marker: SnapshotMarker): SnapshotInfo {
  return { position: marker.position, takenAt: marker.takenAt, records: marker.records, bytes: marker.bytes };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

export class SnapshotStore {
  /** Opens (or creates) the store in `dir`. Fails if another process or store instance has it open. */
  static async open(dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('SnapshotStore: dir is required');
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (error) {
      // classic-level says LEVEL_DATABASE_NOT_OPEN; the useful part (e.g. the LOCK being held) is in the cause.
      const cause = (error as { cause?: unknown }).cause;
      const detail = cause instanceof Error ? cause.message : (error as Error).message;
      const held = /\block\b/i.test(detail) ? ' (is another server or SnapshotStore using it?)' : '';
      throw new Error(`SnapshotStore: cannot open ${dir}: ${detail}${held}`, { cause: error });
    }
    try {
      if ((await db.get(MARKER_FENCE)) === undefined) await db.put(MARKER_FENCE, '');
    } catch (error) {
      await db.close().catch(() => {});
      throw error;
    }
    const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'SnapshotWarning'));
    return new SnapshotStore(db, warn);
  }

  /** Tail of the queue that serializes write/prune/remove. */
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  private constructor(
    private readonly db: Level<string, string>,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * Writes a complete snapshot; resolves when it is durable and visible to
   * `list`/`load`. A snapshot already stored at `position` is replaced. If
   * `records` throws, nothing becomes visible and the error is rethrown.
   */
  write(
    position: number,
    takenAt: number,
    header: unknown,
    records: AsyncIterable<unknown> | Iterable<unknown>,
  ): Promise<SnapshotInfo> {
    if (!Number.isSafeInteger(position) || position < 0) return Promise.reject(new RangeError(`SnapshotStore: bad position ${position}`));
    if (typeof takenAt !== 'number' || !Number.isFinite(takenAt)) return Promise.reject(new RangeError(`SnapshotStore: bad takenAt ${takenAt}`));
    const headerJson = JSON.stringify(header);
    if (typeof headerJson !== 'string') return Promise.reject(new TypeError('SnapshotStore: header is not JSON-serializable'));
    return this.exclusive(async () => {
      // Hide and drop whatever is at this position first (an older snapshot or a crash leftover):
      // stale records with higher indexes would otherwise sit inside the new snapshot's range.
      await this.removeNow(position);
      const writer = new SnapshotRecordWriter(this.db, position);
      try {
        if (isAsyncIterable(records)) {
          for await (const record of records) if (writer.add(record)) await this.flushOrStop(writer, position);
        } else {
          for (const record of records) if (writer.add(record)) await this.flushOrStop(writer, position);
        }
        await writer.flush();
        // The marker's sync only covers LevelDB's current log file; records in an earlier,
        // not yet flushed log file are not on disk. Compacting an empty range makes LevelDB
        // write its memtable to a synced table file first, so every record is durable
        // before the marker says the snapshot is complete.
        await this.extras().compactRange(FLUSH_PROBE_KEY, FLUSH_PROBE_KEY);
      } catch (error) {
        // Best effort, and skipped when closing (it could take a while): a leftover is
        // invisible anyway and the next prune removes it.
        if (!this.closing) await this.db.clear(recordRange(position)).catch(() => {});
        throw error;
      }
      const marker: SnapshotMarker = {
        version: MARKER_VERSION,
        position,
        takenAt,
        records: writer.records,
        bytes: Buffer.byteLength(headerJson, 'utf8') + writer.bytes,
        checksum: writer.checksum,
        header: headerJson,
        headerChecksum: headerChecksum(headerJson),
      };
      await this.db.put(markerKey(position), encodeMarker(marker), { sync: true });
      return infoOf(marker);
    });
  }

  /** Complete snapshots, newest (highest position) first. Unreadable markers are left out, with a warning. */
  async list(): Promise<SnapshotInfo[]> {
    return (await this.scanMarkers()).complete;
  }

  /**
   * Streams one snapshot. Its records are verified as they are read (count,
   * bytes, checksum, JSON); on a mismatch the stream throws
   * SnapshotDamagedError, possibly after yielding records, so a throw means
   * "discard what you built". The stream can be iterated once; records are
   * read from LevelDB only when iteration starts (from then on it reads a
   * LevelDB snapshot), so a prune or rewrite of this position in between
   * makes it fail as damaged.
   */
  async load(position: number): Promise<{ info: SnapshotInfo; header: unknown; records: AsyncIterable<unknown> }> {
    this.assertOpen();
    const marker = await this.readMarker(position);
    if (marker === undefined) throw new Error(`SnapshotStore: no complete snapshot at position ${position}`);
    return this.opened(marker);
  }

  /**
   * Tries snapshots newest first and calls `consume` with each until one is
   * consumed without damage showing. A damaged or unreadable snapshot is
   * skipped with a warning naming its position and why. Records `consume`
   * leaves unread are read afterwards, so the snapshot returned was verified
   * in full. Returns the snapshot used, or null (=> replay the whole log).
   * Errors other than damage (including consume's own) are rethrown.
   */
  async loadNewestValid(consume: SnapshotConsumer): Promise<SnapshotInfo | null> {
    for (const info of await this.list()) {
      let stream: VerifiedStream | undefined;
      try {
        const marker = await this.readMarker(info.position);
        if (marker === undefined) {
          this.warn(`snapshot at position ${info.position} vanished while loading (pruned?); trying an older one`);
          continue;
        }
        const { header, records } = this.opened(marker);
        stream = new VerifiedStream(records[Symbol.asyncIterator]());
        await consume(header, stream, info);
        await stream.drain();
        return info;
      } catch (error) {
        // Damage counts even if consume caught it and threw something else.
        const damage = error instanceof SnapshotDamagedError ? error : stream?.damage;
        if (damage === undefined) throw error;
        this.warn(`skipping snapshot at position ${info.position}: ${damage.reason}`);
      } finally {
        await stream?.close();
      }
    }
    return null;
  }

  /**
   * Keeps the newest `keep` complete snapshots; deletes older ones, those
   * with an unreadable marker, and records no kept marker covers (crash
   * leftovers). Damaged records are not detected here (that takes a load).
   */
  prune(keep: number): Promise<void> {
    if (!Number.isSafeInteger(keep) || keep < 0) return Promise.reject(new RangeError(`SnapshotStore: bad keep ${keep}`));
    return this.exclusive(async () => {
      const { complete, unreadable } = await this.scanMarkers();
      const doomed = [...complete.slice(keep).map((info) => info.position), ...unreadable];
      // Markers first, synced: a crash after this leaves invisible records, never a visible half snapshot.
      if (doomed.length > 0) await this.db.batch(doomed.map((p) => ({ type: 'del' as const, key: markerKey(p) })), { sync: true });
      // Every record outside the kept snapshots' ranges is garbage (older snapshots, crash
      // leftovers): clear the gaps between them. Deleting only writes tombstones; compacting
      // a gap that held data gives the disk space back and spares later scans from stepping
      // over them. Compacting an empty gap is skipped: it would rewrite the kept neighbours.
      const kept = complete.slice(0, keep).map((info) => recordRange(info.position)).reverse();
      const gaps: Array<{ gte: string; lt: string }> = [];
      let from: string = RECORD_KEYS.gte;
      for (const range of kept) {
        gaps.push({ gte: from, lt: range.gte });
        from = range.lt;
      }
      gaps.push({ gte: from, lt: RECORD_KEYS.lt });
      for (const gap of gaps) {
        await this.db.clear(gap);
        if ((await this.extras().approximateSize(gap.gte, gap.lt)) > 0) await this.extras().compactRange(gap.gte, gap.lt);
      }
    });
  }

  /** Deletes the snapshot at `position` (e.g. one found damaged). No-op if there is none. */
  remove(position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < 0) return Promise.reject(new RangeError(`SnapshotStore: bad position ${position}`));
    return this.exclusive(() => this.removeNow(position));
  }

  /** Stops a write in progress at its next batch (it rejects, leaving an invisible leftover), then closes LevelDB. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.queue;
    await this.db.close();
  }

  // --- internals -------------------------------------------------------------

  /** Runs `task` after every write/prune/remove queued before it. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.assertOpen();
      return task();
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private extras(): ClassicLevelExtras {
    return this.db as unknown as ClassicLevelExtras;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('SnapshotStore is closed');
  }

  private async flushOrStop(writer: SnapshotRecordWriter, position: number): Promise<void> {
    if (this.closing) throw new Error(`SnapshotStore closed while writing the snapshot at position ${position}`);
    await writer.flush();
  }

  /** Marker first (synced), then the records: never a visible snapshot with records missing. */
  private async removeNow(position: number): Promise<void> {
    await this.db.del(markerKey(position), { sync: true });
    await this.db.clear(recordRange(position));
  }

  private async readMarker(position: number): Promise<SnapshotMarker | undefined> {
    let text: string | undefined;
    try {
      text = await this.db.get(markerKey(position));
    } catch (error) {
      if ((error as { code?: unknown }).code === 'LEVEL_CORRUPTION') {
        throw new SnapshotDamagedError(position, `LevelDB reports corruption: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
    return text === undefined ? undefined : decodeMarker(position, text);
  }

  /** Header parsed and checked; records not read yet. */
  private opened(marker: SnapshotMarker): { info: SnapshotInfo; header: unknown; records: AsyncIterable<unknown> } {
    const { position } = marker;
    if (headerChecksum(marker.header) !== marker.headerChecksum) throw new SnapshotDamagedError(position, 'header checksum mismatch');
    let header: unknown;
    try {
      header = JSON.parse(marker.header);
    } catch {
      throw new SnapshotDamagedError(position, 'its header is not valid JSON');
    }
    return { info: infoOf(marker), header, records: new SnapshotRecordStream(this.db, marker) };
  }

  /** Markers newest first, split into sound ones and unreadable ones (warned about). */
  private async scanMarkers(): Promise<{ complete: SnapshotInfo[]; unreadable: number[] }> {
    this.assertOpen();
    const complete: SnapshotInfo[] = [];
    const unreadable: number[] = [];
    for await (const [key, text] of this.db.iterator({ ...MARKER_RANGE, reverse: true })) {
      const position = positionOfMarkerKey(key);
      if (position === undefined) {
        this.warn(`ignoring unexpected key ${JSON.stringify(key)} in the snapshot store`);
        continue;
      }
      try {
        complete.push(infoOf(decodeMarker(position, text)));
      } catch (error) {
        if (!(error instanceof SnapshotDamagedError)) throw error;
        unreadable.push(position);
        this.warn(`ignoring snapshot at position ${position}: ${error.reason}`);
      }
    }
    return { complete, unreadable };
  }
}
