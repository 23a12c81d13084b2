import { decidePull, type PullResult } from '../domain/decidePull.ts';
import type { DecideContext } from '../domain/DecideContext.ts';
import type { Ledger, Outcome } from './Ledger.ts';

type PullOutcome = Outcome<PullResult | null>;

interface Waiter {
  resolve(outcome: PullOutcome): void;
  timer: NodeJS.Timeout;
}

/**
 * Long-polling pulls. When a queue gains ready jobs, its waiters are served
 * first come first served, one job each, by running an ordinary pull for them.
 */
export class PullWaiters {
  private readonly waiting = new Map<string, Waiter[]>();
  private total = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly context: () => DecideContext,
  ) {
    ledger.afterChange(() => this.serve());
  }

  get size(): number {
    return this.total;
  }

  /** Waits up to `timeoutMs` for a job; `cancel` (client gone) answers with no job. */
  wait(queue: string, timeoutMs: number): { outcome: Promise<PullOutcome>; cancel(): void } {
    let waiter!: Waiter;
    const outcome = new Promise<PullOutcome>((resolve) => {
      waiter = { resolve, timer: setTimeout(() => this.leave(queue, waiter), timeoutMs) };
    });
    let list = this.waiting.get(queue);
    if (!list) this.waiting.set(queue, (list = []));
    list.push(waiter);
    this.total++;
    return { outcome, cancel: () => this.leave(queue, waiter) };
  }

  /** Answers every waiter with no job (shutdown). */
  releaseAll(): void {
    for (const [queue, list] of this.waiting) for (const waiter of [...list]) this.leave(queue, waiter);
  }

  private leave(queue: string, waiter: Waiter): void {
    const list = this.waiting.get(queue);
    const index = list?.indexOf(waiter) ?? -1;
    if (!list || index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.waiting.delete(queue);
    this.total--;
    clearTimeout(waiter.timer);
    waiter.resolve({ ok: true, result: null, position: 0 });
  }

  private serve(): void {
    const queues = this.ledger.state.takeReadyQueues();
    if (this.total === 0) return;
    for (const queue of queues) {
      const list = this.waiting.get(queue);
      while (list && list.length > 0 && this.ledger.state.readyCount(queue) > 0) {
        const waiter = list.shift() as Waiter;
        this.total--;
        clearTimeout(waiter.timer);
        waiter.resolve(this.ledger.run((view) => decidePull(view, queue, this.context())));
      }
      if (list?.length === 0) this.waiting.delete(queue);
    }
  }
}
