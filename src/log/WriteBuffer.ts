/**
 * Records appended but not yet handed to a flush, already encoded. Bytes go
 * into 1 MiB chunks; a flush takes views of them, and later appends continue
 * in the same chunk after the taken part, so a slow trickle of appends does
 * not allocate a chunk per flush. Chunk bytes are never overwritten once
 * written, which lets readers keep views of unflushed records safely.
 */
import { encodeRecord, frameBytes } from './recordCodec.ts';
import type { Segment } from './Segment.ts';

const CHUNK_BYTES = 1024 * 1024;
/** Records at least this big get a buffer of their own instead of wasting chunk space. */
const OWN_BUFFER_BYTES = CHUNK_BYTES / 4;

/** Consecutive buffered records of one segment, written by a flush with one writev. */
export interface PendingRun {
  readonly segment: Segment;
  readonly firstPosition: number;
  lastPosition: number;
  /** Byte offset in the segment file where the run starts. */
  readonly fileOffset: number;
  bytes: number;
  /** Encoded records, whole frames only, in order. */
  readonly parts: Buffer[];
}

export class WriteBuffer {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  /** Start of the bytes in `chunk` that belong to the last run but are not yet in its `parts`. */
  private openPartStart = 0;
  private runs: PendingRun[] = [];

  get isEmpty(): boolean {
    return this.runs.length === 0;
  }

  /** Encodes a record for `segment` at `fileOffset`, where the segment's previous record ends. */
  append(segment: Segment, position: number, fileOffset: number, type: number, payload: Uint8Array): void {
    const size = frameBytes(payload.length);
    let run = this.runs[this.runs.length - 1];
    if (run === undefined || run.segment !== segment) {
      this.sealOpenPart();
      run = { segment, firstPosition: position, lastPosition: position - 1, fileOffset, bytes: 0, parts: [] };
      this.runs.push(run);
    }
    if (size >= OWN_BUFFER_BYTES) {
      this.sealOpenPart();
      const own = Buffer.allocUnsafe(size);
      encodeRecord(own, 0, type, payload);
      run.parts.push(own);
    } else {
      if (this.used + size > this.chunk.length) {
        this.sealOpenPart();
        this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
        this.used = 0;
        this.openPartStart = 0;
      }
      this.used = encodeRecord(this.chunk, this.used, type, payload);
    }
    run.bytes += size;
    run.lastPosition = position;
  }

  /** Hands every buffered run to the caller (a flush) and empties the buffer. */
  take(): PendingRun[] {
    this.sealOpenPart();
    const runs = this.runs;
    this.runs = [];
    return runs;
  }

  /** Copies of the buffered runs as they are now, unaffected by later appends (for readers). */
  snapshot(): PendingRun[] {
    this.sealOpenPart();
    return this.runs.map((run) => ({ ...run, parts: run.parts.slice() }));
  }

  private sealOpenPart(): void {
    if (this.used > this.openPartStart) {
      this.runs[this.runs.length - 1].parts.push(this.chunk.subarray(this.openPartStart, this.used));
      this.openPartStart = this.used;
    }
  }
}
