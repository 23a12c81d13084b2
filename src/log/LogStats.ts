/** Counters exposed by `SegmentedLog.stats` (tests count fsyncs; metrics export them). */
export interface LogStats {
  /** fsync/fdatasync calls on segment files and the log directory, including those made by open. */
  fsyncs: number;
  /** Group commits that wrote at least one record. */
  flushes: number;
  /** Bytes written to segment files (records and segment headers) since open. */
  bytesWritten: number;
  /** Segment files in the directory. */
  segments: number;
}

/** The I/O counters the writer and recovery increment. */
export type IoCounters = Omit<LogStats, 'segments'>;
