import { decidePull, type PullResult } from '../domain/decidePull.ts';
import type { DecideContext } from '../domain/DecideContext.ts';
import type { Actor } from '../domain/entries.ts';
import type { Ledger, Outcome } from './Ledger.ts';
import { LinkedQueue, type QueueNode } from './LinkedQueue.ts';

type PullOutcome = Outcome<PullResult | null>;

interface Waiter {
  resolve(outcome: PullOutcome): void;
  timer: NodeJS.Timeout;
  /** Who parked the pull: the pull that serves it is theirs. */
  actor: Actor | null;
}

/** A parked pull: its outcome, and `cancel` for a client that went away (answers with no job). */
export interface Waiting {
  outcome: Promise<PullOutcome>;
  cancel(): void;
}

/** The refusal of a long-poll on a queue that has `max` waiting already (HTTP 503, a WebSocket error answer). */
export function tooManyWaiters(queue: string, max: number): string {
  return `Too many pulls waiting on queue ${queue} (max ${max}): retry later`;
}

/**
 * Long-polling pulls. When a queue gains ready jobs, its waiters are served
 * first come first served, one job each, by running an ordinary pull for them.
 * At most `maxPerQueue` wait on one queue: each holds a timer and a promise,
 * and clients could otherwise park them without limit.
 */
export class PullWaiters {
  private readonly waiting = new Map<string, LinkedQueue<Waiter>>();
  private total = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly context: () => DecideContext,
    readonly maxPerQueue = Infinity,
  ) {
    ledger.afterChange(() => this.serve());
  }

  get size(): number {
    return this.total;
  }

  /** Waits up to `timeoutMs` for a job, pulled on behalf of `actor`; null when `queue` already has `maxPerQueue` waiters. */
  wait(queue: string, timeoutMs: number, actor: Actor | null = null): Waiting | null {
    let list = this.waiting.get(queue);
    if (list && list.size >= this.maxPerQueue) return null;
    if (!list) this.waiting.set(queue, (list = new LinkedQueue()));
    const waiters = list;
    let node!: QueueNode<Waiter>;
    const outcome = new Promise<PullOutcome>((resolve) => {
      node = waiters.push({ resolve, timer: setTimeout(() => this.leave(queue, node), timeoutMs), actor });
    });
    this.total++;
    return { outcome, cancel: () => this.leave(queue, node) };
  }

  /** Answers every waiter with no job (shutdown). */
  releaseAll(): void {
    for (const [queue, list] of this.waiting) {
      for (let waiter = list.shift(); waiter; waiter = list.shift()) this.answerEmpty(waiter);
      this.waiting.delete(queue);
    }
    this.total = 0;
  }

  /** O(1): a client that goes away among thousands of waiters costs no scan. */
  private leave(queue: string, node: QueueNode<Waiter>): void {
    const list = this.waiting.get(queue);
    if (!list || !list.remove(node)) return;
    if (list.size === 0) this.waiting.delete(queue);
    this.total--;
    this.answerEmpty(node.value);
  }

  private answerEmpty(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiter.resolve({ ok: true, result: null, position: 0 });
  }

  private serve(): void {
    const queues = this.ledger.state.takeReadyQueues();
    if (this.total === 0) return;
    for (const queue of queues) {
      const list = this.waiting.get(queue);
      while (list && list.size > 0 && this.ledger.state.readyCount(queue) > 0) {
        const waiter = list.shift() as Waiter;
        this.total--;
        clearTimeout(waiter.timer);
        waiter.resolve(this.ledger.run((view) => decidePull(view, queue, this.context()), waiter.actor));
      }
      if (list?.size === 0) this.waiting.delete(queue);
    }
  }
}
