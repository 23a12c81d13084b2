/**
 * Streams the records of one snapshot into LevelDB: JSON-encodes them,
 * folds them into the checksum and writes them in batches, keyed
 * `r:<position>:<index>`. Writes no marker: committing is the store's job.
 *
 * It runs while the server answers requests, so it never holds the event
 * loop long: a batch is cut when it is full or when `sliceMs` of synchronous
 * work has gone into it, and every batch is awaited (LevelDB writes it on its
 * own thread, and the completion comes back through the event loop).
 * Pipelining (encoding batch k+1 while k is written) measured no faster on
 * two cores, so batches go one at a time.
 */
import type { Level } from 'level';
import { performance } from 'node:perf_hooks';
import { checksumRecord } from './snapshotChecksum.ts';
import { MAX_RECORDS, recordIndex, recordKeyPrefix } from './snapshotKeys.ts';

export interface RecordWriterOptions {
  /** Most records per LevelDB batch (default 500: as fast as 1 000–2 000, half the stall). */
  batchRecords?: number;
  /** Longest synchronous stretch spent encoding one batch, in ms (default 3). */
  sliceMs?: number;
}

/** How often (in records) the clock is read: every record, since a record may hold many jobs (a snapshot chunk). */
const CLOCK_EVERY = 1;

interface PutOp {
  type: 'put';
  key: string;
  value: Buffer;
  /**
   * Per operation, not as a batch option: abstract-level spreads batch
   * options into every op, and that measured twice as slow.
   */
  valueEncoding: 'buffer';
}

export class SnapshotRecordWriter {
  records = 0;
  /** UTF-8 bytes of the records' JSON. */
  bytes = 0;
  checksum = 0;

  private readonly prefix: string;
  private readonly batchRecords: number;
  private readonly sliceMs: number;
  private ops: PutOp[] = [];
  private sliceStart = performance.now();

  constructor(
    private readonly db: Level<string, string>,
    position: number,
    options: RecordWriterOptions = {},
  ) {
    this.prefix = recordKeyPrefix(position);
    this.batchRecords = options.batchRecords ?? 500;
    this.sliceMs = options.sliceMs ?? 3;
  }

  /** Encodes one record into the current batch; true when the caller should `flush` now. */
  add(record: unknown): boolean {
    const json = JSON.stringify(record);
    if (typeof json !== 'string') throw new TypeError(`snapshot record ${this.records} is not JSON-serializable`);
    if (this.records >= MAX_RECORDS) throw new RangeError(`a snapshot holds at most ${MAX_RECORDS} records`);
    // The JSON's UTF-8 bytes serve both the checksum and the stored value (the same
    // bytes valueEncoding 'utf8' would store, without encoding twice).
    const value = Buffer.from(json, 'utf8');
    this.checksum = checksumRecord(this.checksum, value);
    this.ops.push({ type: 'put', key: this.prefix + recordIndex(this.records), value, valueEncoding: 'buffer' });
    this.records++;
    this.bytes += value.length;
    const n = this.ops.length;
    return n >= this.batchRecords || (n % CLOCK_EVERY === 0 && performance.now() - this.sliceStart >= this.sliceMs);
  }

  /** Writes the current batch and waits for it (yielding to the event loop). */
  async flush(): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    if (ops.length > 0) await this.db.batch<string, Buffer>(ops, {});
    this.sliceStart = performance.now();
  }
}
