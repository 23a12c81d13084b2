/**
 * A counting semaphore with a FIFO line: at most `limit` holders at once,
 * later callers wait their turn in arrival order. Bounds how many stream
 * replays read the log at the same time (each reads segments and decodes
 * entries as fast as its client takes them).
 */
export class ReplaySlots {
  private holders = 0;
  private readonly line: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get active(): number {
    return this.holders;
  }

  get queued(): number {
    return this.line.length;
  }

  /** Resolves with the release once a slot is free; call the release exactly once. */
  async acquire(): Promise<() => void> {
    if (this.holders < this.limit) this.holders++;
    else await new Promise<void>((resolve) => this.line.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line (holders stays the same), or frees up.
      const next = this.line.shift();
      if (next) next();
      else this.holders--;
    };
  }
}
