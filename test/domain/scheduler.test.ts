// The scheduler on a fake clock, over a real Ledger and projection with an in-memory log:
// it decides due work when its timer fires, and a tick that throws is logged and retried
// after a growing pause, never thrown to the caller (start-up, a timer, a request's change).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecideContext } from '../../src/domain/DecideContext.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import type { Log, LogRecord } from '../../src/log/Log.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { KEEP_ALL } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { Scheduler, type SchedulerClock } from '../../src/commands/Scheduler.ts';

class FakeClock implements SchedulerClock {
  time = 1_700_000_000_000;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private handles = 0;

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const handle = ++this.handles;
    this.timers.set(handle, { at: this.time + ms, callback });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** When the next timer fires, or null. */
  get nextTimer(): number | null {
    let next: number | null = null;
    for (const { at } of this.timers.values()) next = Math.min(next ?? Infinity, at);
    return next;
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = end;
  }
}

class MemoryLog implements Log {
  private readonly records: LogRecord[] = [];
  get lastPosition() {
    return this.records.length;
  }
  get durablePosition() {
    return this.records.length;
  }
  readonly firstPosition = 1;
  append(type: number, payload: Uint8Array): number {
    this.records.push({ position: this.records.length + 1, type, payload });
    return this.records.length;
  }
  async sync(): Promise<void> {}
  async *read(from: number): AsyncIterable<LogRecord> {
    yield* this.records.slice(from - 1);
  }
  async trimBefore(): Promise<number> {
    return 0;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A projection whose reads for the scheduler throw while `broken` is set: a rule meeting a state it cannot handle. */
class BrokenProjection extends QueueProjection {
  broken = false;
  override expiredTtls(now: number, limit: number) {
    if (this.broken) throw new RangeError('Maximum call stack size exceeded');
    return super.expiredTtls(now, limit);
  }
}

function setup() {
  const clock = new FakeClock();
  const state = new BrokenProjection();
  const ledger = new Ledger(new MemoryLog(), state, new EventBus());
  let ids = 0;
  const context = (): DecideContext => ({
    now: clock.now(),
    newId: () => `id-${++ids}`,
    random: () => 0.5,
    lockTtlMs: 30_000,
    retention: KEEP_ALL,
  });
  const errors: Array<{ details: Record<string, unknown>; message: string }> = [];
  const scheduler = new Scheduler(ledger, context, { error: (details, message) => errors.push({ details: details as Record<string, unknown>, message }) }, clock);
  const push = (body: Record<string, unknown>) => {
    const options = parsePushOptions({ data: null, ...body });
    assert.ok(options.ok);
    const outcome = ledger.run((view) => decidePush(view, 'q', options.value, context()));
    assert.ok(outcome.ok);
    return outcome.result.id;
  };
  return { clock, state, ledger, scheduler, errors, push };
}

describe('Scheduler', () => {
  it('promotes a delayed job when the clock reaches its runAt, not before', () => {
    const { clock, state, scheduler, errors, push } = setup();
    scheduler.start();
    const id = push({ delay: 5000 });
    assert.equal(clock.nextTimer, clock.now() + 5000);
    clock.advance(4999);
    assert.equal(state.job(id)?.state, 'delayed');
    clock.advance(1);
    assert.equal(state.job(id)?.state, 'waiting');
    assert.equal(clock.nextTimer, null);
    assert.deepEqual(errors, []);
    scheduler.stop();
  });

  it('a throwing tick at start-up is logged, not thrown, and retried with a doubling pause until it succeeds', () => {
    const { clock, state, scheduler, errors, push } = setup();
    const id = push({ ttl: 100 });
    clock.advance(100);
    state.broken = true;
    assert.doesNotThrow(() => scheduler.start());
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message, 'scheduler tick failed; due work is retried later');
    assert.ok(errors[0].details.err instanceof RangeError);
    assert.equal(errors[0].details.retryInMs, 1000);
    assert.equal(scheduler.failedTicks, 1);
    assert.equal(clock.nextTimer, clock.now() + 1000);

    clock.advance(1000);
    assert.equal(errors.length, 2);
    assert.equal(errors[1].details.retryInMs, 2000);
    clock.advance(1999);
    assert.equal(errors.length, 2, 'no retry before the pause ends');
    clock.advance(1);
    assert.deepEqual(
      errors.map((e) => e.details.retryInMs),
      [1000, 2000, 4000],
    );

    state.broken = false;
    clock.advance(4000);
    assert.equal(errors.length, 3);
    assert.equal(scheduler.failedTicks, 0);
    assert.equal(state.job(id)?.state, 'failed');
    assert.equal(state.job(id)?.error, 'ttl expired');
    scheduler.stop();
  });

  it('while backing off, changes from requests do not re-arm the failing tick sooner, and never throw to the request', () => {
    const { clock, state, scheduler, errors, push } = setup();
    push({ ttl: 10 });
    clock.advance(10);
    state.broken = true;
    scheduler.start();
    assert.equal(errors.length, 1);
    for (let i = 0; i < 50; i++) assert.doesNotThrow(() => push({ data: i }));
    push({ delay: 1 });
    assert.equal(clock.nextTimer, clock.now() + 1000, 'the retry time, not the 1 ms delay nor "now"');
    clock.advance(999);
    assert.equal(errors.length, 1);
    state.broken = false;
    clock.advance(1);
    assert.equal(errors.length, 1);
    assert.equal(state.countsOf('q').failed, 1);
    assert.equal(state.countsOf('q').waiting, 51);
    scheduler.stop();
  });

  it('the pause is capped at one minute', () => {
    const { clock, state, scheduler, errors, push } = setup();
    push({ ttl: 1 });
    clock.advance(1);
    state.broken = true;
    scheduler.start();
    for (let i = 0; i < 10; i++) clock.advance(60_000);
    assert.equal(errors.at(-1)?.details.retryInMs, 60_000);
    scheduler.stop();
    assert.equal(clock.nextTimer, null);
  });
});
