/**
 * Events per second over the last `windowSeconds`, kept in one bucket per
 * wall-clock second: adding is O(1), reading is O(window), memory is fixed.
 */
export class SlidingRate {
  private readonly counts: number[];
  /** The second (ms / 1000, floored) each bucket currently counts. */
  private readonly seconds: number[];
  private readonly startedAt: number;

  constructor(
    private readonly windowSeconds = 10,
    private readonly now: () => number = Date.now,
  ) {
    this.counts = new Array<number>(windowSeconds).fill(0);
    this.seconds = new Array<number>(windowSeconds).fill(-1);
    this.startedAt = now();
  }

  add(count = 1): void {
    const second = Math.floor(this.now() / 1000);
    const slot = second % this.windowSeconds;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot] += count;
  }

  /**
   * Events in the window divided by the time it covers: the current partial
   * second plus the full ones before it, but never more than the time since
   * start (a fresh server is not diluted by seconds it did not live) and
   * never less than one second (a burst in the first milliseconds is not
   * extrapolated into thousands per second).
   */
  perSecond(): number {
    const now = this.now();
    const second = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < this.windowSeconds; slot++) {
      if (this.seconds[slot] > second - this.windowSeconds) total += this.counts[slot];
    }
    const covered = this.windowSeconds - 1 + (now % 1000) / 1000;
    const span = Math.max(1, Math.min(covered, (now - this.startedAt) / 1000));
    return total / span;
  }
}
