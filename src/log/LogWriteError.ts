/**
 * A write or fsync of the log failed for a reason other than a full disk
 * (EIO, ...). After that nothing appended can be promised durable: after a
 * failed writeback the kernel may have dropped the dirty pages, so a retried
 * fsync could succeed for data that never reached the disk (PostgreSQL's
 * "fsyncgate"). The log refuses further appends and syncs with this error;
 * the server is expected to exit and recover the valid prefix from disk.
 */
export class LogWriteError extends Error {
  override readonly name = 'LogWriteError';

  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`write-ahead log write failed, the log is unusable until restart: ${detail}`, { cause });
  }
}
