import type { DecideContext } from '../domain/DecideContext.ts';
import { decideDue } from '../domain/decideDue.ts';
import { nextEviction } from '../domain/retention.ts';
import { isLogUnavailable } from '../log/logUnavailable.ts';
import type { Ledger } from './Ledger.ts';

const BATCH = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** While the log refuses changes (disk full), due work is tried again this often. */
const UNAVAILABLE_RETRY_MS = 1000;

/**
 * The server's own client: one timer on the earliest deadline in the state.
 * When it fires, the due work is decided and logged like any request, so
 * replay needs no clock and a restart simply decides overdue work again.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private armedFor: number | null = null;
  private stopped = true;

  constructor(
    private readonly ledger: Ledger,
    private readonly context: () => DecideContext,
  ) {
    ledger.afterChange(() => this.rearm());
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = null;
  }

  private tick(): void {
    this.timer = null;
    this.armedFor = null;
    if (this.stopped) return;
    let decided: number;
    try {
      do {
        const outcome = this.ledger.run((view) => decideDue(view, this.context(), BATCH));
        decided = outcome.ok ? outcome.result : 0;
      } while (decided >= BATCH);
    } catch (err) {
      if (!isLogUnavailable(err)) throw err;
      // The deadline is already due: rearming would spin. Nothing was applied; look again later.
      this.armedFor = Date.now() + UNAVAILABLE_RETRY_MS;
      this.timer = setTimeout(() => this.tick(), UNAVAILABLE_RETRY_MS);
      return;
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.stopped) return;
    const next = earliest(this.ledger.state.nextDeadline(), nextEviction(this.ledger.state, this.context().retention));
    if (next === null || (this.armedFor !== null && this.armedFor <= next)) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next;
    // Node fires timers longer than 2^31-1 ms at once: wake up at that limit and look again.
    this.timer = setTimeout(() => this.tick(), Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS));
  }
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
