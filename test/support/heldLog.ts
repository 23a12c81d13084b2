/**
 * An in-memory `Log` whose fsync the test controls: appended records become
 * durable only on `release()`, and `crash()` keeps only what was released, as
 * a kill -9 before the fsync would. Lets a test hold an answer at the exact
 * moment between apply and durability.
 */
import type { Log, LogRecord } from '../../src/log/Log.ts';

interface Waiter {
  position: number;
  resolve: () => void;
}

export class HeldLog implements Log {
  private readonly records: LogRecord[];
  private durable: number;
  private waiters: Waiter[] = [];
  /** `sync` calls that had to wait (the ones a real log would serve with a shared fsync). */
  waits = 0;

  constructor(records: LogRecord[] = []) {
    this.records = records;
    this.durable = records.length;
  }

  get lastPosition(): number {
    return this.records.length;
  }

  get durablePosition(): number {
    return this.durable;
  }

  get firstPosition(): number {
    return 1;
  }

  append(type: number, payload: Uint8Array): number {
    const position = this.records.length + 1;
    this.records.push({ position, type, payload: Uint8Array.from(payload) });
    return position;
  }

  sync(position: number = this.lastPosition): Promise<void> {
    if (position <= this.durable) return Promise.resolve();
    this.waits++;
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  /** The fsync completes: everything appended so far is durable and its waiters resume. */
  release(): void {
    this.durable = this.records.length;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** A kill -9 now: a new log holding only the durable records (waiters here never resume). */
  crash(): HeldLog {
    return new HeldLog(this.records.slice(0, this.durable));
  }

  async *read(from: number): AsyncIterable<LogRecord> {
    const last = this.records.length;
    for (let position = Math.max(from, 1); position <= last; position++) yield this.records[position - 1];
  }

  /** Keeps everything: the held records are the whole history a test looks at. */
  async trimBefore(): Promise<number> {
    return 0;
  }

  async flush(): Promise<void> {
    await this.sync();
  }

  async close(): Promise<void> {}
}
