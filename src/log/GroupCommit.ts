/**
 * When to flush. Exactly one flush runs at a time; records appended during it
 * go to the next one. A flush starts:
 *  - at once (next setImmediate) when somebody waits for durability and no
 *    flush is running, so every waiter arriving in the same event-loop turn
 *    shares one fsync;
 *  - right after the previous flush when waiters remain, so latency is about
 *    one fsync and throughput grows with the number of concurrent waiters;
 *  - after `intervalMs` when records are buffered but nobody waits.
 *
 * A flush that fails because the disk is full (ENOSPC, EDQUOT) STALLS the log:
 * the target keeps the records it could not write and the flush is retried
 * (backing off from `retryMs` to `maxRetryMs`) until it succeeds. Meanwhile
 * `unavailable` says so (appends are refused), and each waiter is answered
 * with a LogStalledError once it has waited `stallAnswerMs`. The records were
 * already applied to the in-memory state; retrying until they are written is
 * what keeps memory and disk the same.
 *
 * Any other failure (EIO, ...) fails the log for good: every current and
 * future waiter is rejected with the same LogWriteError and `onFailure` runs.
 * A failed fsync cannot be retried safely, and the owner is expected to exit
 * and recover from what is on disk.
 */
import { isDiskFull, LogStalledError } from './LogStalledError.ts';
import { LogWriteError } from './LogWriteError.ts';

export interface FlushTarget {
  /** True when appended records are waiting for a flush (new, or left by a failed one). */
  hasBuffered(): boolean;
  /** Writes and fsyncs every buffered record; resolves with the last position now durable. */
  flushBuffered(): Promise<number>;
}

export interface GroupCommitOptions {
  /** Longest time a record without a waiter stays only in memory. */
  intervalMs: number;
  /** While stalled, how long a waiter waits before it is answered with a LogStalledError (default 1000 ms). */
  stallAnswerMs?: number;
  /** First retry of a stalled flush after this long (default 50 ms), doubling up to `maxRetryMs` (default 1000 ms). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Called once when the log fails for good. */
  onFailure?: (error: LogWriteError) => void;
  /** Called when the log stalls (disk full), and when it resumes. */
  onStall?: (error: LogStalledError) => void;
  onResume?: () => void;
}

interface Waiter {
  position: number;
  resolve: () => void;
  reject: (error: Error) => void;
  /** Set while stalled: answers the waiter with a LogStalledError when it fires. */
  stallTimer?: NodeJS.Timeout;
}

const DEFAULT_STALL_ANSWER_MS = 1000;
const DEFAULT_RETRY_MS = 50;
const DEFAULT_MAX_RETRY_MS = 1000;

export class GroupCommit {
  private durable: number;
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 0;
  private readonly waiters = new Set<Waiter>();
  private failed: LogWriteError | undefined;
  private stalled: Error | undefined;
  private readonly stallAnswerMs: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(
    private readonly target: FlushTarget,
    durablePosition: number,
    private readonly options: GroupCommitOptions,
  ) {
    this.durable = durablePosition;
    this.stallAnswerMs = options.stallAnswerMs ?? DEFAULT_STALL_ANSWER_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.maxRetryMs = Math.max(this.retryMs, options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS);
  }

  get durablePosition(): number {
    return this.durable;
  }

  get failure(): LogWriteError | undefined {
    return this.failed;
  }

  /** Why changes cannot be taken now, if they cannot: failed for good, or stalled on a full disk. */
  get unavailable(): LogWriteError | LogStalledError | undefined {
    if (this.failed) return this.failed;
    return this.stalled ? new LogStalledError(this.stalled, 'refused') : undefined;
  }

  get isStalled(): boolean {
    return this.stalled !== undefined && !this.failed;
  }

  /** Call after buffering a record: arms the interval timer if nothing else will flush it. */
  noteAppend(): void {
    if (this.flushing || this.failed || this.stalled || this.timer !== undefined || this.immediate !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, this.options.intervalMs);
    // Buffered records without a waiter must not keep the process alive (close() flushes them).
    this.timer.unref();
  }

  /** Resolves once `position` is durable. */
  waitFor(position: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (position <= this.durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { position, resolve, reject };
      this.waiters.add(waiter);
      if (this.stalled) this.armStallAnswer(waiter);
      else if (!this.flushing && this.immediate === undefined) {
        this.immediate = setImmediate(() => {
          this.immediate = undefined;
          this.start();
        });
      }
    });
  }

  /** Fails the log for good after a write or fsync error. */
  fail(cause: unknown): void {
    if (this.failed) return;
    this.failed = cause instanceof LogWriteError ? cause : new LogWriteError(cause);
    this.stopTimers();
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) {
      clearTimeout(waiter.stallTimer);
      waiter.reject(this.failed);
    }
    this.options.onFailure?.(this.failed);
  }

  /** Stops every timer, the stall's retries included (close). */
  stopTimers(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.immediate);
    this.immediate = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private start(): void {
    if (this.flushing || this.failed || !this.target.hasBuffered()) return;
    this.stopTimers();
    this.flushing = true;
    this.target.flushBuffered().then(
      (position) => {
        this.flushing = false;
        this.durable = position;
        if (this.stalled) this.resume();
        this.settle();
      },
      (error: unknown) => {
        this.flushing = false;
        if (isDiskFull(error)) this.stall(error);
        else this.fail(error);
      },
    );
  }

  private stall(cause: unknown): void {
    const first = this.stalled === undefined;
    this.stalled = cause instanceof Error ? cause : new Error(String(cause));
    this.retryDelay = first ? this.retryMs : Math.min(this.retryDelay * 2, this.maxRetryMs);
    if (first) {
      for (const waiter of this.waiters) this.armStallAnswer(waiter);
      this.options.onStall?.(new LogStalledError(this.stalled, 'pending'));
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.start();
    }, this.retryDelay);
    // A stalled log must not keep a process alive on its own; a waiter's answer timer does while anyone waits.
    this.retryTimer.unref();
  }

  private resume(): void {
    this.stalled = undefined;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.stallTimer);
      waiter.stallTimer = undefined;
    }
    this.options.onResume?.();
  }

  private armStallAnswer(waiter: Waiter): void {
    if (waiter.stallTimer !== undefined) return;
    waiter.stallTimer = setTimeout(() => {
      if (!this.waiters.delete(waiter) || !this.stalled) return;
      waiter.reject(new LogStalledError(this.stalled, 'pending'));
    }, this.stallAnswerMs);
  }

  private settle(): void {
    for (const waiter of this.waiters) {
      if (waiter.position <= this.durable) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (this.waiters.size > 0) this.start();
    else if (this.target.hasBuffered()) this.noteAppend();
  }
}
