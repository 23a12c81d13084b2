/**
 * Keeps the job id index (JobIndex) following the log: in the background it
 * reads the entries after the index's marker, up to what the log has made
 * durable, and writes their (job id, position, offset) keys in bounded
 * batches. Only durable entries are indexed: a crash can take back a
 * position that was not fsynced yet, and the next entry would reuse it.
 *
 * At start the marker says where to continue, so whatever a crash lost of
 * the index is read again from the log. Entries not indexed yet (the lag:
 * the last interval's entries and those not durable) are found by
 * JobHistory in a scan of the log's tail.
 */
import { jobIdsOf } from '../domain/entries.ts';
import { decodeEntry } from '../domain/entryCodec.ts';
import type { SegmentedLog } from '../log/SegmentedLog.ts';
import { type IndexRef, type JobIndex, UNKNOWN_OFFSET } from './JobIndex.ts';

export interface JobIndexerOptions {
  /** How often the indexer looks for newly durable entries. */
  intervalMs?: number;
  /** Entries per batch: a batch's decode runs on the event loop, so it stays short. */
  batchEntries?: number;
  onError?: (error: unknown) => void;
}

export class JobIndexer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly batchEntries: number;

  constructor(
    private readonly index: JobIndex,
    private readonly log: SegmentedLog,
    private readonly options: JobIndexerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    this.batchEntries = options.batchEntries ?? 500;
  }

  /**
   * Checks the index against the log: one whose marker is past the end of
   * the log was built from another log and is rebuilt.
   */
  async open(): Promise<void> {
    if (this.index.indexedThrough > this.log.lastPosition) await this.index.clear();
  }

  /** Indexes in the background from now on; resolves when the first catch-up (what the log held at start) is done. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.catchUp(), this.intervalMs);
    this.timer.unref();
    return this.catchUp();
  }

  /** Indexes every entry durable now, batch by batch; joins a run in progress. */
  catchUp(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for the batch being written. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped && this.index.indexedThrough < this.log.durablePosition) {
        await this.indexBatch(this.log.durablePosition);
        // Let requests in between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // Retried at the next interval (e.g. a segment deleted by retention under the read).
      this.options.onError?.(error);
    }
  }

  private async indexBatch(durable: number): Promise<void> {
    const from = this.index.indexedThrough + 1;
    const last = Math.min(durable, from + this.batchEntries - 1);
    const refs: IndexRef[] = [];
    // Positions retention removed before they were indexed are skipped: their records are gone.
    let through = Math.max(this.index.indexedThrough, this.log.firstPosition - 1);
    for await (const record of this.log.read(from)) {
      if (record.position > last) break;
      const entry = decodeEntry(record.type, record.payload);
      for (const jobId of jobIdsOf(entry)) refs.push({ jobId, position: record.position, offset: record.offset ?? UNKNOWN_OFFSET });
      through = record.position;
    }
    if (through > this.index.indexedThrough) await this.index.write(refs, through);
  }
}
