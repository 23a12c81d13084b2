/**
 * Reads the log entries of one job id, oldest first, a page at a time: the
 * indexed ones through the job id index (a few point reads), the newest ones
 * (not indexed yet: the indexer's lag) by a scan of the log's tail, which a
 * cheap byte search keeps from decoding entries of other jobs.
 */
import { type Entry, jobIdsOf } from '../domain/entries.ts';
import { decodeEntry } from '../domain/entryCodec.ts';
import type { LogRecord } from '../log/Log.ts';
import type { SegmentedLog } from '../log/SegmentedLog.ts';
import type { IndexRef, JobIndex } from './JobIndex.ts';

export interface LoggedEntry {
  position: number;
  entry: Entry;
}

export interface HistoryPage {
  entries: LoggedEntry[];
  /** Position to continue after, when more entries follow. */
  nextAfter: number | null;
  /** Set when retention deleted entries of this job: the first retained position. */
  truncatedBefore: number | null;
  /** The log has (or had, before retention) an entry naming this id. */
  found: boolean;
}

/** The tail to scan is too long: the indexer is catching up (a new or rebuilt index). */
export class IndexCatchingUpError extends Error {
  constructor(
    readonly indexedThrough: number,
    readonly lastPosition: number,
  ) {
    super(`the job index is catching up with the log (indexed through ${indexedThrough} of ${lastPosition}); try again shortly`);
  }
}

export class JobHistory {
  constructor(
    private readonly index: JobIndex,
    private readonly log: SegmentedLog,
    /** Longest tail a request scans; beyond, it is refused with IndexCatchingUpError. */
    private readonly maxTailScan = 100_000,
  ) {}

  /** Up to `limit` entries of `jobId` after position `after`, oldest first. */
  async page(jobId: string, after: number, limit: number): Promise<HistoryPage> {
    // Read once: keys the indexer writes meanwhile are past it and come from the tail scan.
    const through = this.index.indexedThrough;
    const lastPosition = this.log.lastPosition;
    if (lastPosition - through > this.maxTailScan) throw new IndexCatchingUpError(through, lastPosition);
    const want = limit + 1;
    let truncatedBefore: number | null = null;
    let from = after + 1;
    const first = this.log.firstPosition;
    if (from < first) {
      if ((await this.index.refsOf(jobId, from, first - 1, 1)).length > 0) truncatedBefore = first;
      from = first;
    }
    const refs = await this.index.refsOf(jobId, from, through, want);
    const out: LoggedEntry[] = [];
    const records = await this.log.readAt(refs);
    for (let i = 0; i < refs.length; i++) {
      const entry = await this.entryAt(jobId, refs[i], records[i]);
      if (entry === undefined) truncatedBefore = this.log.firstPosition;
      else out.push({ position: refs[i].position, entry });
    }
    if (out.length < want) await this.scanTail(jobId, Math.max(from, through + 1), want - out.length, out);
    const more = out.length > limit;
    const entries = more ? out.slice(0, limit) : out;
    return {
      entries,
      nextAfter: more ? entries[entries.length - 1].position : null,
      truncatedBefore,
      found: out.length > 0 || truncatedBefore !== null || after > 0,
    };
  }

  /**
   * The entry an index key points to; read by position when the offset does
   * not hold it. Undefined: retention deleted it.
   */
  private async entryAt(jobId: string, ref: IndexRef, record: LogRecord | undefined): Promise<Entry | undefined> {
    if (record !== undefined) {
      const entry = decodeEntry(record.type, record.payload);
      if (jobIdsOf(entry).includes(jobId)) return entry;
    }
    for await (const found of this.log.read(ref.position)) {
      if (found.position !== ref.position) return undefined;
      return decodeEntry(found.type, found.payload);
    }
    return undefined;
  }

  private async scanTail(jobId: string, from: number, want: number, out: LoggedEntry[]): Promise<void> {
    // An entry's JSON holds the id exactly as JSON.stringify escapes it: skip records without those bytes.
    const needle = Buffer.from(JSON.stringify(jobId).slice(1, -1), 'utf8');
    let found = 0;
    for await (const record of this.log.read(from)) {
      if (Buffer.from(record.payload.buffer, record.payload.byteOffset, record.payload.byteLength).indexOf(needle) === -1) continue;
      const entry = decodeEntry(record.type, record.payload);
      if (!jobIdsOf(entry).includes(jobId)) continue;
      out.push({ position: record.position, entry });
      if (++found >= want) return;
    }
  }
}
