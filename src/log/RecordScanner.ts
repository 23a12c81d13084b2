/**
 * Walks the records of a segment file from a byte offset up to a byte limit
 * with large buffered reads (one syscall per ~1 MiB, not per record).
 * It reports what it finds and leaves the judgement (torn tail, damage,
 * expected end) to the caller.
 */
import type { FileHandle } from 'node:fs/promises';
import { decodeRecord, frameBytes, MAX_PAYLOAD_BYTES, RECORD_HEADER_BYTES } from './recordCodec.ts';

export const READ_BUFFER_BYTES = 1024 * 1024;
const FIRST_READ_BYTES = 64 * 1024;

export type ScanStep =
  /** `payload` is a view into the scanner's buffer, valid only until the next call to `next`. */
  | { kind: 'record'; offset: number; type: number; payload: Buffer }
  /** The limit falls exactly on a record boundary at `offset`. */
  | { kind: 'end'; offset: number }
  /** A frame starting at `offset` runs past the limit (partial header or payload). */
  | { kind: 'truncated'; offset: number }
  | { kind: 'bad'; offset: number; reason: string };

export class RecordScanner {
  private buf: Buffer;
  /** File offset of buf[0]. */
  private bufFileOffset: number;
  private start = 0;
  private end = 0;
  private needBytes = RECORD_HEADER_BYTES;

  private filled = false;

  constructor(
    private readonly handle: FileHandle,
    startOffset: number,
    private limit: number,
    private readonly maxBufferBytes = READ_BUFFER_BYTES,
  ) {
    this.bufFileOffset = startOffset;
    // Start small (a point read wants a few records), grow to maxBufferBytes for a long scan.
    this.buf = Buffer.allocUnsafe(Math.max(RECORD_HEADER_BYTES, Math.min(FIRST_READ_BYTES, maxBufferBytes, limit - startOffset)));
  }

  /** File offset of the next record to be returned. */
  get offset(): number {
    return this.bufFileOffset + this.start;
  }

  async next(): Promise<ScanStep> {
    for (;;) {
      const step = this.nextBuffered();
      if (step !== undefined) return step;
      await this.fill();
    }
  }

  private get atLimit(): boolean {
    return this.bufFileOffset + this.end >= this.limit;
  }

  /** The next step from bytes already in memory, or undefined when `fill` must run first. */
  nextBuffered(): ScanStep | undefined {
    const offset = this.offset;
    if (this.start === this.end && this.atLimit) return { kind: 'end', offset };
    const result = decodeRecord(this.buf, this.start, this.end);
    switch (result.kind) {
      case 'record':
        this.start = result.end;
        return { kind: 'record', offset, type: result.type, payload: result.payload };
      case 'bad':
        return { kind: 'bad', offset, reason: result.reason };
      case 'incomplete':
        if (this.atLimit) return { kind: 'truncated', offset };
        this.needBytes = result.needBytes;
        return undefined;
    }
  }

  /** Keeps the unread bytes, grows the buffer (for a big frame, or a long scan), and reads more. */
  async fill(): Promise<void> {
    const unread = this.end - this.start;
    const remaining = this.limit - (this.bufFileOffset + this.start);
    const scanGrows = this.filled && this.buf.length < this.maxBufferBytes && remaining > this.buf.length;
    this.filled = true;
    if (this.needBytes > this.buf.length || scanGrows) {
      const size = Math.max(this.needBytes, Math.min(this.maxBufferBytes, this.buf.length * 2, remaining));
      const grown = Buffer.allocUnsafe(Math.min(frameBytes(MAX_PAYLOAD_BYTES), size));
      this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
    } else if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
    }
    this.bufFileOffset += this.start;
    this.start = 0;
    this.end = unread;
    const want = Math.min(this.buf.length - unread, this.limit - (this.bufFileOffset + unread));
    const { bytesRead } = await this.handle.read(this.buf, unread, want, this.bufFileOffset + unread);
    // A file shorter than the caller believed: the real end becomes the limit.
    if (bytesRead < want) this.limit = this.bufFileOffset + unread + bytesRead;
    this.end += bytesRead;
  }
}
