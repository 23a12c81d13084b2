/**
 * The write-ahead log as the rest of the server sees it. Positions are entry
 * sequence numbers: the first record ever appended has position 1, and every
 * append takes the next one. The file-backed implementation is `SegmentedLog`;
 * a PostgreSQL-backed one can implement the same contract later.
 */
export interface LogRecord {
  /** Sequence number of the record, starting at 1. */
  position: number;
  /** Record type, 0..255, owned by the caller (the log knows nothing of jobs). */
  type: number;
  payload: Uint8Array;
  /**
   * Byte offset of the record in its segment file, when the reader knows it
   * (the file-backed log always does): an index can keep it to read the
   * record again without scanning (SegmentedLog.readAt).
   */
  offset?: number;
}

export interface Log {
  /** Position of the last appended record (0 when the log is empty). */
  readonly lastPosition: number;
  /** Position of the last record known to be on stable storage. */
  readonly durablePosition: number;
  /** Position of the oldest record still readable (1 unless retention removed some). */
  readonly firstPosition: number;

  /**
   * Adds a record to the write buffer and returns its position, synchronously:
   * the single writer gets a total order without awaiting. The record reaches
   * disk with the next group commit.
   */
  append(type: number, payload: Uint8Array): number;

  /**
   * Resolves once every record up to `position` (default: the last appended)
   * is written and fsynced. Waiting callers share one fsync; when any caller
   * waits, a flush starts at once instead of at the next tick.
   */
  sync(position?: number): Promise<void>;

  /** Reads records with position >= `from`, in order, up to the last appended one at call time. */
  read(from: number): AsyncIterable<LogRecord>;

  /**
   * Retention: removes records before `position` in the units the storage
   * drops whole (segment files, ...), only units last written before
   * `writtenBefore` (ms since epoch) when given, never a record that is not
   * durable. `firstPosition` moves accordingly. Resolves with the units removed.
   */
  trimBefore(position: number, options?: { writtenBefore?: number }): Promise<number>;

  /** Writes and fsyncs everything appended so far. */
  flush(): Promise<void>;

  /** Flushes, then closes the files. Appends after close throw. */
  close(): Promise<void>;
}
