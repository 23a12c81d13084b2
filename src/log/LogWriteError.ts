/**
 * A write or fsync of the log failed. After that nothing appended can be
 * promised durable, so the log refuses further appends and syncs with this
 * error; the server is expected to exit and recover from disk.
 */
export class LogWriteError extends Error {
  override readonly name = 'LogWriteError';

  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`write-ahead log write failed, the log is unusable until restart: ${detail}`, { cause });
  }
}
