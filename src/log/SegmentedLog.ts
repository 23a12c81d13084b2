/**
 * The file-backed write-ahead log: a directory of segment files, a write
 * buffer flushed by group commit, crash recovery on open. See
 * docs/log-format.md for the on-disk format and the recovery rules.
 */
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GroupCommit } from './GroupCommit.ts';
import type { LogFile, WrapLogFile } from './LogFile.ts';
import type { LogStalledError } from './LogStalledError.ts';
import type { Log, LogRecord } from './Log.ts';
import type { IoCounters, LogStats } from './LogStats.ts';
import type { LogWriteError } from './LogWriteError.ts';
import { checkRecord, frameBytes } from './recordCodec.ts';
import { recoverLog } from './recovery.ts';
import { Segment } from './Segment.ts';
import { fsyncDirectory, segmentFileName } from './segmentFiles.ts';
import { SEGMENT_HEADER_BYTES } from './segmentHeader.ts';
import { readRecordsAt, type RecordRef } from './pointReads.ts';
import { readRecords, type ReadPlan, type SegmentOnDisk } from './SegmentReader.ts';
import { SegmentWriter } from './SegmentWriter.ts';
import { WriteBuffer, type PendingRun } from './WriteBuffer.ts';

export interface SegmentedLogOptions {
  /** Directory holding the segment files; created if missing. */
  dir: string;
  /** A segment is closed once the next record would take it past this size (default 64 MiB). */
  segmentBytes?: number;
  /** Longest time a record without a waiting `sync` stays only in memory (default 10 ms). */
  flushIntervalMs?: number;
  /** Recovery notices such as a cut torn tail (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /**
   * Called once if a write or fsync fails, even when no `sync` was waiting
   * (a timer flush): the owner should stop and recover from disk.
   */
  onFailure?: (error: LogWriteError) => void;
  /**
   * Called when a flush finds the disk full (ENOSPC, EDQUOT): the log stalls,
   * refuses appends and retries the write until it succeeds, then calls
   * `onResume`. See GroupCommit.
   */
  onStall?: (error: LogStalledError) => void;
  onResume?: () => void;
  /** While stalled, how long a `sync` waits before it is rejected with a LogStalledError (default 1000 ms). */
  stallAnswerMs?: number;
  /** First retry of a stalled flush (default 50 ms), doubling up to `maxStallRetryMs` (default 1000 ms). */
  stallRetryMs?: number;
  maxStallRetryMs?: number;
  /** Wraps each segment file the writer uses: fault injection in tests. */
  wrapFile?: WrapLogFile;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FLUSH_INTERVAL_MS = 10;

export class SegmentedLog implements Log {
  /** Opens (or creates) the log in `options.dir`, recovering from a crash if needed. */
  static async open(options: SegmentedLogOptions): Promise<SegmentedLog> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('SegmentedLog: dir is required');
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new RangeError(`SegmentedLog: bad segmentBytes ${segmentBytes}`);
    if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) throw new RangeError(`SegmentedLog: bad flushIntervalMs ${flushIntervalMs}`);
    const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'WriteAheadLogWarning'));
    const io: IoCounters = { fsyncs: 0, flushes: 0, bytesWritten: 0 };
    const recovered = await recoverLog(options.dir, warn, io);
    return new SegmentedLog(options, segmentBytes, flushIntervalMs, recovered.segments, recovered.activeHandle, io);
  }

  private readonly segments: Segment[];
  private readonly buffer = new WriteBuffer();
  /**
   * Runs taken by a flush and not yet durable; readers serve them from memory.
   * A flush that failed on a full disk leaves them here for the retry.
   */
  private inFlight: PendingRun[] = [];
  private readonly writer: SegmentWriter;
  private readonly commit: GroupCommit;
  private last: number;
  /** Last position written and fsynced by completed runs (the reader's on-disk limit). */
  private diskPosition: number;
  private closing: Promise<void> | undefined;
  private deletions: Promise<unknown> = Promise.resolve();

  private readonly dir: string;

  private constructor(
    options: SegmentedLogOptions,
    private readonly segmentBytes: number,
    flushIntervalMs: number,
    segments: Segment[],
    activeFile: LogFile,
    private readonly io: IoCounters,
  ) {
    this.dir = options.dir;
    this.segments = segments;
    const active = segments[segments.length - 1];
    this.last = active.lastPosition;
    this.diskPosition = this.last;
    this.writer = new SegmentWriter(activeFile, active, io, options.wrapFile);
    this.commit = new GroupCommit(
      { hasBuffered: () => !this.buffer.isEmpty || this.inFlight.length > 0, flushBuffered: () => this.flushBuffered() },
      this.last,
      {
        intervalMs: flushIntervalMs,
        stallAnswerMs: options.stallAnswerMs,
        retryMs: options.stallRetryMs,
        maxRetryMs: options.maxStallRetryMs,
        onFailure: options.onFailure,
        onStall: options.onStall,
        onResume: options.onResume,
      },
    );
  }

  get lastPosition(): number {
    return this.last;
  }

  get durablePosition(): number {
    return this.commit.durablePosition;
  }

  get firstPosition(): number {
    return this.segments[0].firstPosition;
  }

  get stats(): LogStats {
    return { ...this.io, segments: this.segments.filter((s) => s.created).length };
  }

  /** The write error that made the log unusable, if any. */
  get failure(): LogWriteError | undefined {
    return this.commit.failure;
  }

  /** Why appends are refused now, if they are: the disk is full (stalled), or a write failed for good. */
  get unavailable(): LogWriteError | LogStalledError | undefined {
    return this.commit.unavailable;
  }

  /** True while a full disk holds writes back (appends refused, retrying). */
  get stalled(): boolean {
    return this.commit.isStalled;
  }

  append(type: number, payload: Uint8Array): number {
    if (this.closing) throw new Error('write-ahead log is closed');
    const unavailable = this.commit.unavailable;
    if (unavailable) throw unavailable;
    checkRecord(type, payload);
    const size = frameBytes(payload.length);
    let segment = this.segments[this.segments.length - 1];
    // Rotate at a record boundary; a record bigger than segmentBytes still goes whole into a fresh segment.
    if (segment.recordCount > 0 && segment.appendedBytes + size > this.segmentBytes) {
      const firstPosition = this.last + 1;
      segment = new Segment(firstPosition, segment.firstPosition, join(this.dir, segmentFileName(firstPosition)), {
        recordCount: 0,
        bytes: SEGMENT_HEADER_BYTES,
        created: false,
      });
      this.segments.push(segment);
    }
    const position = this.last + 1;
    const offset = segment.appendedBytes;
    this.buffer.append(segment, position, offset, type, payload);
    segment.noteRecordOffset(segment.recordCount, offset);
    segment.recordCount++;
    segment.appendedBytes += size;
    this.last = position;
    this.commit.noteAppend();
    return position;
  }

  sync(position: number = this.last): Promise<void> {
    if (Number.isNaN(position)) return Promise.reject(new RangeError('sync: position must be a number'));
    // Waiting for a position not appended yet would wait for an append that may never come.
    return this.commit.waitFor(Math.min(position, this.last));
  }

  flush(): Promise<void> {
    return this.sync(this.last);
  }

  read(from: number): AsyncIterable<LogRecord> {
    if (Number.isNaN(from)) throw new RangeError('read: from must be a number');
    // Capture everything now: the read covers exactly the records appended before this call.
    const plan: ReadPlan = {
      from: Math.max(Math.ceil(from), this.firstPosition),
      onDisk: this.onDisk(),
      inMemory: [...this.inFlight, ...this.buffer.snapshot()],
    };
    return { [Symbol.asyncIterator]: () => readRecords(plan) };
  }

  /**
   * Reads the records at `refs`, each at the byte offset a reader saw it at
   * (`LogRecord.offset`), with one read each instead of a scan. A ref not on
   * disk (deleted by retention, not flushed yet) or whose offset does not
   * hold a valid record is answered `undefined`: read it with `read`.
   */
  readAt(refs: readonly RecordRef[]): Promise<Array<LogRecord | undefined>> {
    return readRecordsAt(this.onDisk(), refs);
  }

  /** The records of each segment that completed flushes put in its file, as of now. */
  private onDisk(): SegmentOnDisk[] {
    return this.segments
      .map((segment) => ({
        segment,
        records: Math.min(segment.recordCount, Math.max(0, this.diskPosition - segment.firstPosition + 1)),
        fileEnd: segment.writtenBytes,
      }))
      .filter((part) => part.records > 0);
  }

  /**
   * Here the units are whole segment files whose records all precede
   * `position`, deleted oldest first, never the active segment nor one with
   * records not yet on disk; `writtenBefore` compares the file's mtime.
   * Returns how many files were deleted.
   */
  trimBefore(position: number, options: { writtenBefore?: number } = {}): Promise<number> {
    const deletion = this.deletions.then(() => this.deleteOldSegments(position, options.writtenBefore ?? Infinity));
    this.deletions = deletion.catch(() => undefined);
    return deletion;
  }

  /** Flushes and fsyncs everything appended, then closes the files. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    try {
      await this.commit.waitFor(this.last);
    } finally {
      this.commit.stopTimers();
      await this.deletions;
      await this.writer.close();
    }
  }

  private async flushBuffered(): Promise<number> {
    // Runs a failed flush left (disk full) go first: the writer cut them back to their record boundary.
    for (const run of this.buffer.take()) this.inFlight.push(run);
    while (this.inFlight.length > 0) {
      const run = this.inFlight[0] as PendingRun;
      await this.writer.writeRun(run);
      // Same turn: readers see these records on disk exactly when they leave memory.
      run.segment.writtenBytes = run.fileOffset + run.bytes;
      this.diskPosition = run.lastPosition;
      this.inFlight.shift();
    }
    this.io.flushes++;
    return this.diskPosition;
  }

  private async deleteOldSegments(position: number, writtenBefore: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      if (oldest.lastPosition >= position || oldest.lastPosition > this.diskPosition) break;
      // Segments are written in order: the first one too recent to go ends the sweep.
      if (writtenBefore !== Infinity && (await stat(oldest.path)).mtimeMs >= writtenBefore) break;
      await unlink(oldest.path);
      this.segments.shift();
      deleted++;
    }
    if (deleted > 0) {
      await fsyncDirectory(this.dir);
      this.io.fsyncs++;
    }
    return deleted;
  }
}
