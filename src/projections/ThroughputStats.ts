import type { Entry } from '../domain/entries.ts';
import { SlidingRate } from './SlidingRate.ts';

/** Window of `pushPerSec` / `pullPerSec`. */
const RATE_WINDOW_SECONDS = 10;

/**
 * Throughput since this process started, counted from the entries live
 * commands apply (`Ledger.onApplied`; replay is not counted).
 *
 * - totalPushed: push entries, i.e. jobs created, repeat occurrences
 *   included; a duplicate push creates nothing and is not counted.
 * - totalPulled: pull entries (attempts started).
 * - totalCompleted: ack entries.
 * - totalFailed: terminal failures only (into the DLQ, or removed by
 *   removeOnFail), whatever the cause: error, timeout, stall, ttl,
 *   dependency. A failed attempt that is retried is not a failed job.
 */
export class ThroughputStats {
  totalPushed = 0;
  totalPulled = 0;
  totalCompleted = 0;
  totalFailed = 0;
  private readonly pushes: SlidingRate;
  private readonly pulls: SlidingRate;

  constructor(now: () => number = Date.now) {
    this.pushes = new SlidingRate(RATE_WINDOW_SECONDS, now);
    this.pulls = new SlidingRate(RATE_WINDOW_SECONDS, now);
  }

  record(entry: Entry): void {
    switch (entry.type) {
      case 'push':
        this.totalPushed++;
        this.pushes.add();
        return;
      case 'pull':
        this.totalPulled++;
        this.pulls.add();
        return;
      case 'ack':
        this.totalCompleted++;
        return;
      case 'fail':
        if (entry.retryAt === null) this.totalFailed++;
        return;
      default:
        return;
    }
  }

  /** Pushes per second over the last 10 s, two decimals. */
  get pushPerSec(): number {
    return round2(this.pushes.perSecond());
  }

  /** Pulls per second over the last 10 s, two decimals. */
  get pullPerSec(): number {
    return round2(this.pulls.perSecond());
  }
}

const round2 = (value: number) => Math.round(value * 100) / 100;
