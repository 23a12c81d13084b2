/**
 * When to flush. Exactly one flush runs at a time; records appended during it
 * go to the next one. A flush starts:
 *  - at once (next setImmediate) when somebody waits for durability and no
 *    flush is running, so every waiter arriving in the same event-loop turn
 *    shares one fsync;
 *  - right after the previous flush when waiters remain, so latency is about
 *    one fsync and throughput grows with the number of concurrent waiters;
 *  - after `intervalMs` when records are buffered but nobody waits.
 * A failed flush fails the log for good: every current and future waiter is
 * rejected with the same error.
 */
import { LogWriteError } from './LogWriteError.ts';

export interface FlushTarget {
  /** True when appended records are waiting for a flush. */
  hasBuffered(): boolean;
  /** Writes and fsyncs every buffered record; resolves with the last position now durable. */
  flushBuffered(): Promise<number>;
}

interface Waiter {
  position: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class GroupCommit {
  private durable: number;
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private waiters: Waiter[] = [];
  private failed: LogWriteError | undefined;

  constructor(
    private readonly target: FlushTarget,
    private readonly intervalMs: number,
    durablePosition: number,
    private readonly onFailure: (error: LogWriteError) => void = () => {},
  ) {
    this.durable = durablePosition;
  }

  get durablePosition(): number {
    return this.durable;
  }

  get failure(): LogWriteError | undefined {
    return this.failed;
  }

  /** Call after buffering a record: arms the interval timer if nothing else will flush it. */
  noteAppend(): void {
    if (this.flushing || this.failed || this.timer !== undefined || this.immediate !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, this.intervalMs);
    // Buffered records without a waiter must not keep the process alive (close() flushes them).
    this.timer.unref();
  }

  /** Resolves once `position` is durable. */
  waitFor(position: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (position <= this.durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ position, resolve, reject });
      if (!this.flushing && this.immediate === undefined) {
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
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(this.failed);
    this.onFailure(this.failed);
  }

  stopTimers(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  private start(): void {
    if (this.flushing || this.failed || !this.target.hasBuffered()) return;
    this.stopTimers();
    this.flushing = true;
    this.target.flushBuffered().then(
      (position) => {
        this.flushing = false;
        this.durable = position;
        this.settle();
      },
      (error: unknown) => {
        this.flushing = false;
        this.fail(error);
      },
    );
  }

  private settle(): void {
    const stillWaiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.position <= this.durable) waiter.resolve();
      else stillWaiting.push(waiter);
    }
    this.waiters = stillWaiting;
    if (stillWaiting.length > 0) this.start();
    else if (this.target.hasBuffered()) this.noteAppend();
  }
}
