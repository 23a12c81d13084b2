import type { DecideContext } from '../domain/DecideContext.ts';
import { decideDue } from '../domain/decideDue.ts';
import type { JobsView } from '../domain/JobsView.ts';
import { nextEviction } from '../domain/retention.ts';
import type { QueueProjection } from '../projections/QueueProjection.ts';
import { isLogUnavailable } from '../log/logUnavailable.ts';
import type { Ledger } from './Ledger.ts';

const BATCH = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a tick throws: wait this long, doubling per consecutive failure up to the cap. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** While the log refuses changes (disk full), due work is tried again this often. */
const UNAVAILABLE_RETRY_MS = 1000;

/** The time and timers the scheduler runs on: the real ones in the server, a fake one in tests. */
export interface SchedulerClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerLogger {
  error(details: object, message: string): void;
}

/** What the scheduler uses of the ledger. */
export type SchedulerLedger = Pick<Ledger, 'run' | 'afterChange'> & { readonly state: JobsView & Pick<QueueProjection, 'nextDeadline'> };

/**
 * The server's own client: one timer on the earliest deadline in the state.
 * When it fires, the due work is decided and logged like any request, so
 * replay needs no clock and a restart simply decides overdue work again.
 *
 * A tick that throws (a bug in a rule, a state the rules did not foresee) is
 * logged and tried again after a growing pause: it must neither stop the
 * process nor, since start-up runs the first tick, keep it from starting.
 * Requests go on being served meanwhile.
 */
export class Scheduler {
  private timer: unknown = null;
  private armedFor: number | null = null;
  private stopped = true;
  private failures = 0;
  /** While backing off after a failed tick, no timer is armed before this time. */
  private retryAt = 0;

  constructor(
    private readonly ledger: SchedulerLedger,
    private readonly context: () => DecideContext,
    private readonly logger: SchedulerLogger,
    private readonly clock: SchedulerClock = systemClock,
  ) {
    ledger.afterChange(() => this.rearm());
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = null;
  }

  /** Consecutive ticks that threw (0 once one succeeds). */
  get failedTicks(): number {
    return this.failures;
  }

  private tick(): void {
    this.timer = null;
    this.armedFor = null;
    if (this.stopped) return;
    try {
      let decided: number;
      do {
        const outcome = this.ledger.run((view) => decideDue(view, this.context(), BATCH));
        decided = outcome.ok ? outcome.result : 0;
      } while (decided >= BATCH);
      this.failures = 0;
      this.retryAt = 0;
    } catch (err) {
      if (isLogUnavailable(err)) {
        // Disk full: nothing was applied, and the deadline is already due, so rearming at once would spin.
        this.retryAt = this.clock.now() + UNAVAILABLE_RETRY_MS;
      } else {
        this.failures++;
        const retryInMs = Math.min(RETRY_FIRST_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
        this.retryAt = this.clock.now() + retryInMs;
        this.logger.error({ err, failures: this.failures, retryInMs }, 'scheduler tick failed; due work is retried later');
      }
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.stopped) return;
    const due = earliest(this.ledger.state.nextDeadline(), nextEviction(this.ledger.state, this.context().retention));
    // While backing off, overdue work waits for the retry instead of failing again on every change.
    const next = due === null ? null : Math.max(due, this.retryAt);
    if (next === null || (this.armedFor !== null && this.armedFor <= next)) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.armedFor = next;
    // Node fires timers longer than 2^31-1 ms at once: wake up at that limit and look again.
    this.timer = this.clock.setTimeout(() => this.tick(), Math.min(Math.max(0, next - this.clock.now()), MAX_TIMER_MS));
  }
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
