import type { Decided } from '../domain/Decision.ts';
import { DomainError } from '../domain/DomainError.ts';
import type { Actor, Entry } from '../domain/entries.ts';
import { decodeEntry, encodeEntry } from '../domain/entryCodec.ts';
import type { JobsView } from '../domain/JobsView.ts';
import type { Log } from '../log/Log.ts';
import type { EventBus } from '../projections/EventBus.ts';
import type { QueueProjection } from '../projections/QueueProjection.ts';

export type Outcome<R> = { ok: true; result: R; position: number } | { ok: false; error: DomainError };

export type AppliedListener = (entry: Entry, position: number) => void;

/**
 * The one path every change takes: decide against the current state, append
 * the entries, apply them, publish their events. It runs synchronously from
 * decision to apply, so the event loop is the single writer and no other
 * command can slip in between.
 */
export class Ledger {
  private readonly listeners: Array<() => void> = [];
  private readonly appliedListeners: AppliedListener[] = [];
  private notifying = false;
  private notifyAgain = false;

  constructor(
    private readonly log: Log,
    readonly state: QueueProjection,
    private readonly bus: EventBus,
  ) {}

  /**
   * `actor` is who asked: stamped on every entry the rule did not attribute
   * itself (rules stamp the server's own decisions, such as a repeat's next
   * occurrence). Cascades a request caused (a cancel failing its dependents)
   * are that request's. Null only where nobody is known (tests, tools).
   */
  run<R>(decide: (view: JobsView) => Decided<R>, actor: Actor | null = null): Outcome<R> {
    const decided = decide(this.state);
    if (decided instanceof DomainError) return { ok: false, error: decided };
    let position = 0;
    for (const entry of decided.entries) {
      entry.by ??= actor;
      const { type, payload } = encodeEntry(entry);
      position = this.log.append(type, payload);
      this.state.apply(entry, position);
      this.bus.publish(entry, position);
      for (const listener of this.appliedListeners) listener(entry, position);
    }
    if (position > 0) {
      this.state.forgetRemovalsThrough(this.log.durablePosition);
      this.notify();
    }
    return { ok: true, result: decided.result, position };
  }

  /** Resolves once the entry at `position` (and all before it) is on disk. */
  durable(position: number): Promise<void> {
    return position > 0 ? this.log.sync(position) : Promise.resolve();
  }

  /**
   * An answer that reports jobs (a read, or a refusal decided from their
   * state) must not report what a crash can undo: it waits until the log is
   * durable up to the last entry that changed or removed any of them. Returns
   * undefined when that is already so, which is the common case: the answer
   * goes out synchronously, without a promise. Waiters share the group commit.
   */
  settled(ids: string | Iterable<string>): Promise<void> | undefined {
    let last = 0;
    if (typeof ids === 'string') last = this.state.lastChangeOf(ids);
    else for (const id of ids) last = Math.max(last, this.state.lastChangeOf(id));
    return last > this.log.durablePosition ? this.log.sync(last) : undefined;
  }

  /** Rebuilds the state from the log. Entries are applied, never decided again. */
  async replay(from = 1): Promise<number> {
    let count = 0;
    for await (const record of this.log.read(from)) {
      this.state.apply(decodeEntry(record.type, record.payload), record.position);
      // What replay reads is on disk: nothing it removed needs remembering.
      this.state.forgetRemovalsThrough(record.position);
      count++;
    }
    return count;
  }

  /**
   * Called with each entry a live command applied (throughput counters).
   * Replay stays silent: entries recovered at start happened in an earlier process.
   */
  onApplied(listener: AppliedListener): void {
    this.appliedListeners.push(listener);
  }

  /** Called after every change that logged entries: waiting pullers, the scheduler. */
  afterChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private notify(): void {
    // A listener may run commands of its own; their notifications fold into this loop.
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    try {
      do {
        this.notifyAgain = false;
        for (const listener of this.listeners) listener();
      } while (this.notifyAgain);
    } finally {
      this.notifying = false;
    }
  }
}
