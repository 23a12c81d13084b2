/**
 * What the log knows about one segment file: its position range, how many of
 * its bytes are on disk, and a sparse index from record number to byte offset
 * so that reading from the middle of a big segment skips most of it.
 */
import { SEGMENT_HEADER_BYTES } from './segmentHeader.ts';

/** One index entry every this many records. */
export const SPARSE_INDEX_STRIDE = 1024;

export class Segment {
  /**
   * Records in the segment: for the active segment, every appended one
   * (written or still buffered); for older ones, derived from the next
   * segment's name.
   */
  recordCount: number;
  /** File length once everything appended to this segment has been written. */
  appendedBytes: number;
  /** File length covered by completed flushes (written and fdatasynced; readers read no further). */
  writtenBytes: number;
  /** False only for a segment opened by rotation whose file the next flush will create. */
  created: boolean;
  /** offsets[k] = byte offset of record number k * STRIDE; grown as records are appended or read. */
  private readonly offsets: number[] = [SEGMENT_HEADER_BYTES];

  constructor(
    readonly firstPosition: number,
    readonly previousFirstPosition: number,
    readonly path: string,
    init: { recordCount: number; bytes: number; created: boolean },
  ) {
    this.recordCount = init.recordCount;
    this.appendedBytes = init.bytes;
    this.writtenBytes = init.created ? init.bytes : 0;
    this.created = init.created;
  }

  /** Position of the last record, firstPosition - 1 when the segment is empty. */
  get lastPosition(): number {
    return this.firstPosition + this.recordCount - 1;
  }

  /** Remembers where record number `index` starts, if it is the next index point. */
  noteRecordOffset(index: number, offset: number): void {
    if (index % SPARSE_INDEX_STRIDE === 0 && index / SPARSE_INDEX_STRIDE === this.offsets.length) {
      this.offsets.push(offset);
    }
  }

  /** The closest known record at or before record number `index` to start decoding from. */
  seekPoint(index: number): { index: number; offset: number } {
    const k = Math.min(Math.floor(index / SPARSE_INDEX_STRIDE), this.offsets.length - 1);
    return { index: k * SPARSE_INDEX_STRIDE, offset: this.offsets[k] };
  }
}
