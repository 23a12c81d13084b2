/** Public surface of the write-ahead log. */
export type { Log, LogRecord } from './Log.ts';
export type { LogStats } from './LogStats.ts';
export { LogCorruptionError } from './LogCorruptionError.ts';
export { LogWriteError } from './LogWriteError.ts';
export { SegmentedLog, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_SEGMENT_BYTES, type SegmentedLogOptions } from './SegmentedLog.ts';
export { MAX_PAYLOAD_BYTES } from './recordCodec.ts';
export { LogStalledError } from './LogStalledError.ts';
export { isLogUnavailable, type LogUnavailableError } from './logUnavailable.ts';
