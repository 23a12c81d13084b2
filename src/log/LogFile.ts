/**
 * The operations the log writer performs on a segment file. A node
 * `FileHandle` is one; fault-injection tests wrap it (ENOSPC, EIO).
 */
export interface LogFile {
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Wraps each segment file the writer uses; the identity unless a test injects faults. */
export type WrapLogFile = (file: LogFile, path: string) => LogFile;
