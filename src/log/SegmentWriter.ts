/**
 * Puts buffered runs on disk: one writev per segment, then fdatasync. Owns the
 * active segment's file handle and performs rotation when a run belongs to a
 * segment whose file does not exist yet.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IoCounters } from './LogStats.ts';
import type { Segment } from './Segment.ts';
import { fsyncDirectory } from './segmentFiles.ts';
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES } from './segmentHeader.ts';
import type { PendingRun } from './WriteBuffer.ts';

export class SegmentWriter {
  private handle: FileHandle | undefined;

  constructor(
    handle: FileHandle,
    private segment: Segment,
    private readonly io: IoCounters,
  ) {
    this.handle = handle;
  }

  /** Writes `run` and makes it durable. Runs must come in log order. */
  async writeRun(run: PendingRun): Promise<void> {
    if (run.segment !== this.segment) {
      await this.rotateTo(run);
      return;
    }
    if (run.fileOffset !== run.segment.writtenBytes) {
      throw new Error(`internal: run for ${run.segment.path} starts at ${run.fileOffset}, file is written up to ${run.segment.writtenBytes}`);
    }
    const handle = this.openHandle();
    await writeFully(handle, run.parts, run.fileOffset);
    this.io.bytesWritten += run.bytes;
    await handle.datasync();
    this.io.fsyncs++;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /**
   * Every earlier run ended with an fdatasync, so the old segment is durable
   * before anything lands in the new file: a crash can never leave records in
   * a new segment while the old one lacks some.
   */
  private async rotateTo(run: PendingRun): Promise<void> {
    const segment = run.segment;
    if (segment.created || run.fileOffset !== SEGMENT_HEADER_BYTES) {
      throw new Error(`internal: unexpected run for ${segment.path} while ${this.segment.path} is active`);
    }
    await this.close();
    // 'wx': never clobber a file someone else put there.
    const handle = await open(segment.path, 'wx');
    this.handle = handle;
    this.segment = segment;
    const header = encodeSegmentHeader({ firstPosition: segment.firstPosition, previousFirstPosition: segment.previousFirstPosition });
    await writeFully(handle, [header, ...run.parts], 0);
    this.io.bytesWritten += header.length + run.bytes;
    await handle.datasync();
    await fsyncDirectory(dirname(segment.path));
    this.io.fsyncs += 2;
    segment.created = true;
  }

  private openHandle(): FileHandle {
    if (this.handle === undefined) throw new Error('write-ahead log writer is closed');
    return this.handle;
  }
}

/** writev until every byte is written (the kernel may write less than asked). */
async function writeFully(handle: FileHandle, parts: Buffer[], position: number): Promise<void> {
  let pending = parts;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === 0) throw new Error('writev wrote 0 bytes');
    at += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
}

function dropBytes(parts: Buffer[], count: number): Buffer[] {
  let rest = count;
  let i = 0;
  while (i < parts.length && rest >= parts[i].length) rest -= parts[i++].length;
  const remaining = parts.slice(i);
  if (rest > 0) remaining[0] = remaining[0].subarray(rest);
  return remaining;
}
