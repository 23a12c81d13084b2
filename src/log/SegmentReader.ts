/**
 * Streams records from a position: first from segment files (what completed
 * flushes put there), then from the in-memory runs not yet on disk. Everything
 * it needs is captured when the read starts, so later appends, flushes and
 * rotations neither show up in nor disturb a read in progress.
 *
 * Records are decoded in batches (everything one 1 MiB read brings in) and
 * handed out by a plain iterator: a replay of millions of records should not
 * pay for a chain of async generators per record.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { LogRecord } from './Log.ts';
import { LogCorruptionError, truncationRepair } from './LogCorruptionError.ts';
import { decodeRecord, RECORD_HEADER_BYTES } from './recordCodec.ts';
import { RecordScanner, type ScanStep } from './RecordScanner.ts';
import type { Segment } from './Segment.ts';
import type { PendingRun } from './WriteBuffer.ts';

/** Batches start small (a read may want only a few records) and grow for long scans. */
const FIRST_BATCH = 16;
const MAX_BATCH = 1024;

/** The on-disk part of one segment as it was when the read started. */
export interface SegmentOnDisk {
  segment: Segment;
  /** Records of the segment that are in the file. */
  records: number;
  /** File length covering exactly those records. */
  fileEnd: number;
}

export interface ReadPlan {
  /** First position to return (already clamped to the log's first position). */
  from: number;
  /** Oldest first. */
  onDisk: SegmentOnDisk[];
  /** Records after the on-disk ones, up to the last position at call time. */
  inMemory: PendingRun[];
}

export function readRecords(plan: ReadPlan): AsyncIterableIterator<LogRecord> {
  return new BatchIterator(recordBatches(plan));
}

/** One record per `next()` out of batches produced by `source`. */
class BatchIterator implements AsyncIterableIterator<LogRecord> {
  private batch: LogRecord[] = [];
  private index = 0;

  constructor(private readonly source: AsyncGenerator<LogRecord[], void, undefined>) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<LogRecord> {
    return this;
  }

  next(): Promise<IteratorResult<LogRecord, undefined>> {
    if (this.index < this.batch.length) return Promise.resolve({ value: this.batch[this.index++], done: false });
    return this.nextBatch();
  }

  /** Stopping early (break out of for-await) closes the file being read. */
  async return(): Promise<IteratorResult<LogRecord, undefined>> {
    this.batch = [];
    await this.source.return(undefined);
    return { value: undefined, done: true };
  }

  private async nextBatch(): Promise<IteratorResult<LogRecord, undefined>> {
    for (;;) {
      const result = await this.source.next();
      if (result.done) {
        this.batch = [];
        return { value: undefined, done: true };
      }
      this.batch = result.value;
      this.index = 0;
      if (this.batch.length > 0) return { value: this.batch[this.index++], done: false };
    }
  }
}

async function* recordBatches(plan: ReadPlan): AsyncGenerator<LogRecord[], void, undefined> {
  for (let i = 0; i < plan.onDisk.length; i++) {
    const part = plan.onDisk[i];
    if (part.segment.firstPosition + part.records - 1 < plan.from) continue;
    const later = plan.onDisk.slice(i + 1).map((p) => p.segment.path);
    yield* segmentFileBatches(part, plan.from, later);
  }
  for (const run of plan.inMemory) {
    if (run.lastPosition >= plan.from) yield runRecords(run, plan.from);
  }
}

async function* segmentFileBatches(part: SegmentOnDisk, from: number, laterFiles: string[]): AsyncGenerator<LogRecord[], void, undefined> {
  const { segment, records, fileEnd } = part;
  const wanted = Math.max(0, from - segment.firstPosition);
  const seek = segment.seekPoint(wanted);
  const handle = await openForRead(segment.path);
  try {
    const scanner = new RecordScanner(handle, seek.offset, fileEnd);
    let index = seek.index;
    let batchSize = FIRST_BATCH;
    while (index < records) {
      const batch: LogRecord[] = [];
      let step = scanner.nextBuffered();
      while (step !== undefined) {
        if (step.kind !== 'record') throw unexpected(step, part, index, laterFiles);
        segment.noteRecordOffset(index, step.offset);
        if (index >= wanted) batch.push({ position: segment.firstPosition + index, type: step.type, payload: Buffer.from(step.payload), offset: step.offset });
        index++;
        if (index === records || batch.length === batchSize) break;
        step = scanner.nextBuffered();
      }
      if (batch.length > 0) {
        yield batch;
        batchSize = Math.min(batchSize * 2, MAX_BATCH);
      }
      if (step === undefined) await scanner.fill();
    }
    const after = await scanner.next();
    if (after.kind !== 'end') {
      throw new LogCorruptionError(
        segment.path,
        after.offset,
        `segment holds more data than its ${records} records (the next segment starts at position ${segment.firstPosition + records})`,
        `It overlaps the next segment, or the bytes after its last record are damaged. ${truncationRepair(segment.path, after.offset, [])}`,
      );
    }
  } finally {
    await handle.close();
  }
}

/** A damaged record, or a segment that ends before the record count its successor's name implies. */
function unexpected(step: Exclude<ScanStep, { kind: 'record' }>, part: SegmentOnDisk, index: number, laterFiles: string[]): LogCorruptionError {
  const { segment, records } = part;
  if (step.kind === 'bad') return LogCorruptionError.atRecord(segment.path, step.offset, `damaged record (${step.reason})`, laterFiles);
  return LogCorruptionError.atRecord(
    segment.path,
    step.offset,
    `segment ends after ${index} records, but the log expects ${records} (positions ${segment.firstPosition}..${segment.firstPosition + records - 1})`,
    laterFiles,
  );
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`write-ahead log segment ${path} was deleted (retention?) while being read`, { cause: error });
    }
    throw error;
  }
}

/** Records of a buffered run; this process encoded them, so they are whole frames. */
function runRecords(run: PendingRun, from: number): LogRecord[] {
  const out: LogRecord[] = [];
  let position = run.firstPosition;
  // The parts are the run's bytes back to back, written at run.fileOffset.
  let partFileOffset = run.fileOffset;
  for (const part of run.parts) {
    let offset = 0;
    while (offset < part.length) {
      if (position < from) {
        offset += RECORD_HEADER_BYTES + part.readUInt32LE(offset + 4);
      } else {
        const decoded = decodeRecord(part, offset, part.length);
        if (decoded.kind !== 'record') throw new Error(`internal: unreadable buffered record at position ${position}`);
        out.push({ position, type: decoded.type, payload: Buffer.from(decoded.payload), offset: partFileOffset + offset });
        offset = decoded.end;
      }
      position++;
    }
    partFileOffset += part.length;
  }
  return out;
}
