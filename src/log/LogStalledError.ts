/**
 * The disk is full (ENOSPC or EDQUOT): the log keeps what it could not write
 * in memory and retries until the write succeeds. Meanwhile appends are
 * refused and syncs are answered with this error after a bounded wait.
 * Unlike LogWriteError this is not final: the log resumes by itself.
 */
export class LogStalledError extends Error {
  override readonly name = 'LogStalledError';

  constructor(
    cause: unknown,
    /** 'refused': nothing was changed; 'pending': the change was made but is not on disk yet. */
    readonly kind: 'refused' | 'pending',
  ) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      kind === 'refused'
        ? `disk full: changes are refused until space is freed (${detail})`
        : `disk full: the change was made but is not on disk yet; it is written once space is freed, unless the server stops first (${detail})`,
      { cause },
    );
  }
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/** True for the errors that stall the log instead of failing it. */
export function isDiskFull(error: unknown): boolean {
  return DISK_FULL.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}
