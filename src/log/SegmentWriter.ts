/**
 * Puts buffered runs on disk: one writev per segment, then fdatasync. Owns the
 * active segment's file and performs rotation when a run belongs to a segment
 * whose file does not exist yet.
 *
 * A run that fails (write or fsync) is cut back: the file is truncated to the
 * run's first byte, the end of what earlier runs made durable, so no partial
 * record is left behind and a retry writes the run again from its record
 * boundary, from the caller's memory copy. Retrying an fsync alone would be
 * wrong: after a failed writeback the kernel may have dropped or marked clean
 * the dirty pages, and a second fsync then reports success for data that is
 * not on disk (PostgreSQL's "fsyncgate"). Rewriting the bytes makes a fresh
 * set of dirty pages, whose fsync means what it says.
 */
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LogFile, WrapLogFile } from './LogFile.ts';
import type { IoCounters } from './LogStats.ts';
import { LogWriteError } from './LogWriteError.ts';
import type { Segment } from './Segment.ts';
import { fsyncDirectory } from './segmentFiles.ts';
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES } from './segmentHeader.ts';
import type { PendingRun } from './WriteBuffer.ts';

export class SegmentWriter {
  private file: LogFile | undefined;

  constructor(
    file: LogFile,
    private segment: Segment,
    private readonly io: IoCounters,
    private readonly wrap: WrapLogFile = (f) => f,
  ) {
    this.file = wrap(file, segment.path);
  }

  /**
   * Writes `run` and makes it durable. Runs must come in log order. On
   * failure nothing of the run stays in the file, and the same run may be
   * written again; if the cut itself fails, a LogWriteError is thrown.
   */
  async writeRun(run: PendingRun): Promise<void> {
    if (run.segment !== this.segment) await this.openNext(run);
    const segment = run.segment;
    // A new segment's header goes out with its first run: the file is never durable without it.
    const fresh = !segment.created;
    const expected = fresh ? SEGMENT_HEADER_BYTES : segment.writtenBytes;
    if (run.fileOffset !== expected) {
      throw new Error(`internal: run for ${segment.path} starts at ${run.fileOffset}, expected ${expected}`);
    }
    const start = fresh ? 0 : run.fileOffset;
    const parts = fresh
      ? [encodeSegmentHeader({ firstPosition: segment.firstPosition, previousFirstPosition: segment.previousFirstPosition }), ...run.parts]
      : run.parts;
    const file = this.openFile();
    try {
      const bytes = await writeFully(file, parts, start);
      this.io.bytesWritten += bytes;
      await file.datasync();
      this.io.fsyncs++;
      if (fresh) {
        // The new file's name must be durable before anything in it is acknowledged.
        await fsyncDirectory(dirname(segment.path));
        this.io.fsyncs++;
      }
    } catch (error) {
      await cutBack(file, start, segment.path, error);
      throw error;
    }
    if (fresh) segment.created = true;
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /**
   * Every earlier run ended with an fdatasync, so the old segment is durable
   * before anything lands in the new file: a crash can never leave records in
   * a new segment while the old one lacks some.
   */
  private async openNext(run: PendingRun): Promise<void> {
    const segment = run.segment;
    if (segment.created) throw new Error(`internal: unexpected run for ${segment.path} while ${this.segment.path} is active`);
    // 'wx': never clobber a file someone else put there. Switch before closing the old one,
    // so a retry after any later failure writes into this file again instead of creating it twice.
    const next = this.wrap(await open(segment.path, 'wx'), segment.path);
    const previous = this.file;
    this.file = next;
    this.segment = segment;
    await previous?.close();
  }

  private openFile(): LogFile {
    if (this.file === undefined) throw new Error('write-ahead log writer is closed');
    return this.file;
  }
}

/** Truncates `file` back to `length` after a failed run; a failure to do so is final. */
async function cutBack(file: LogFile, length: number, path: string, cause: unknown): Promise<void> {
  try {
    await file.truncate(length);
  } catch (error) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new LogWriteError(new Error(`${detail}; then could not cut ${path} back to ${length} bytes: ${(error as Error).message}`, { cause: error }));
  }
}

/** writev until every byte is written (the kernel may write less than asked). Returns the byte count. */
async function writeFully(file: LogFile, parts: Buffer[], position: number): Promise<number> {
  let pending = parts;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await file.writev(pending, at);
    if (bytesWritten === 0) throw new Error('writev wrote 0 bytes');
    at += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
  return at - position;
}

function dropBytes(parts: Buffer[], count: number): Buffer[] {
  let rest = count;
  let i = 0;
  while (i < parts.length && rest >= parts[i].length) rest -= parts[i++].length;
  const remaining = parts.slice(i);
  if (rest > 0) remaining[0] = remaining[0].subarray(rest);
  return remaining;
}
