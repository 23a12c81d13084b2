/**
 * Streams the records of one snapshot into LevelDB: JSON-encodes them,
 * folds them into the checksum and writes them in batches, keyed
 * `r:<position>:<index>`. Writes no marker: committing is the store's job.
 *
 * It runs while the server answers requests, so it never holds the event
 * loop long: a batch is cut when it is full or when `SLICE_MS` of synchronous
 * work has gone into it, and every batch hand-off awaits LevelDB (a trip
 * through the event loop). Batches are pipelined: batch k+1 is encoded while
 * LevelDB writes batch k on its own thread; at most one is in flight.
 */
import type { Level } from 'level';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { checksumRecord } from './snapshotChecksum.ts';
import { MAX_RECORDS, recordIndex, recordKeyPrefix } from './snapshotKeys.ts';

/** Most records per LevelDB batch (the design notes: batches of 1 000–10 000 reach ~200k keys/s). */
export const BATCH_RECORDS = 1000;
/** Longest synchronous stretch spent encoding one batch before yielding (ms). */
export const SLICE_MS = 4;
/** How often (in records) the clock is read: performance.now() is cheap, not free. */
const CLOCK_EVERY = 32;

interface PutOp {
  type: 'put';
  key: string;
  value: Buffer;
}

export class SnapshotRecordWriter {
  records = 0;
  /** UTF-8 bytes of the records' JSON. */
  bytes = 0;
  checksum = 0;

  private readonly prefix: string;
  private ops: PutOp[] = [];
  private inflight: Promise<void> | undefined;
  private sliceStart = performance.now();

  constructor(
    private readonly db: Level<string, string>,
    position: number,
  ) {
    this.prefix = recordKeyPrefix(position);
  }

  /** Encodes one record into the current batch; true when the caller should `flush` now. */
  add(record: unknown): boolean {
    const json = JSON.stringify(record);
    if (typeof json !== 'string') throw new TypeError(`snapshot record ${this.records} is not JSON-serializable`);
    if (this.records >= MAX_RECORDS) throw new RangeError(`a snapshot holds at most ${MAX_RECORDS} records`);
    const value = Buffer.from(json, 'utf8');
    this.checksum = checksumRecord(this.checksum, value);
    this.ops.push({ type: 'put', key: this.prefix + recordIndex(this.records), value });
    this.records++;
    this.bytes += value.length;
    const n = this.ops.length;
    return n >= BATCH_RECORDS || (n % CLOCK_EVERY === 0 && performance.now() - this.sliceStart >= SLICE_MS);
  }

  /**
   * Waits for the batch in flight (yielding to the event loop), then hands
   * the current one to LevelDB without waiting for it. Rejects if an earlier
   * batch failed.
   */
  async flush(): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    const previous = this.inflight;
    this.inflight = undefined;
    await (previous ?? yieldToEventLoop());
    this.sliceStart = performance.now();
    if (ops.length === 0) return;
    // Values are the JSON's UTF-8 bytes, already made for the checksum: passing them as
    // buffers stores the same bytes as valueEncoding 'utf8' without encoding twice.
    const batch = this.db.batch<string, Buffer>(ops, { valueEncoding: 'buffer' });
    // Observed by the next flush/finish; this keeps a failure meanwhile from being "unhandled".
    batch.catch(() => {});
    this.inflight = batch;
  }

  /** Writes what is left and resolves once every batch is written. */
  async finish(): Promise<void> {
    await this.flush();
    await this.inflight;
    this.inflight = undefined;
  }

  /** Waits for the batch in flight, ignoring its outcome (before cleaning up after a failure). */
  async settle(): Promise<void> {
    await this.inflight?.catch(() => {});
    this.inflight = undefined;
  }
}
