import type { DecideContext, RetentionPolicy } from '../../src/domain/DecideContext.ts';
import type { Decided } from '../../src/domain/Decision.ts';
import { DomainError } from '../../src/domain/DomainError.ts';
import type { Entry } from '../../src/domain/entries.ts';
import type { JobsView } from '../../src/domain/JobsView.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';

/**
 * A state driven by decisions with an injected clock and deterministic ids:
 * what the ledger does, minus the log.
 */
export class Harness {
  state = new QueueProjection();
  /** Every entry applied, with its position: a log without the disk. */
  readonly log: Array<[Entry, number]> = [];
  now = 1_700_000_000_000;
  private position = 0;
  private ids = 0;
  random = () => 0.5;
  retention: RetentionPolicy = { completedMs: Infinity, completedMax: Infinity, failedMs: Infinity, failedMax: Infinity };

  ctx(): DecideContext {
    return { now: this.now, newId: () => `id-${++this.ids}`, random: this.random, lockTtlMs: 30_000, retention: this.retention };
  }

  run<R>(decide: (view: JobsView, ctx: DecideContext) => Decided<R>): R {
    const decided = decide(this.state, this.ctx());
    if (decided instanceof DomainError) throw decided;
    for (const entry of decided.entries) {
      this.log.push([entry, ++this.position]);
      this.state.apply(entry, this.position);
    }
    return decided.result;
  }

  push(queue: string, body: Record<string, unknown>): string {
    const options = parsePushOptions({ data: null, ...body });
    if (!options.ok) throw new Error(options.error);
    return this.run((view, ctx) => decidePush(view, queue, options.value, ctx)).id;
  }
}
