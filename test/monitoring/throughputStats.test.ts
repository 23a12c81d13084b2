// ThroughputStats and SlidingRate in-process, with an injected clock: which
// entries count as pushed / pulled / completed / failed, and the sliding
// per-second rates.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull, type PullResult } from '../../src/domain/decidePull.ts';
import { SlidingRate } from '../../src/projections/SlidingRate.ts';
import { ThroughputStats } from '../../src/projections/ThroughputStats.ts';
import { Harness } from '../domain/fixtures.ts';

/** Runs decisions on a harness and counts every entry they applied. */
function counted() {
  const h = new Harness();
  const stats = new ThroughputStats(() => h.now);
  let seen = 0;
  const feed = () => {
    for (; seen < h.log.length; seen++) stats.record(h.log[seen][0]);
  };
  const pull = (queue: string): PullResult => {
    const result = h.run((view, ctx) => decidePull(view, queue, ctx));
    assert.ok(result, `a job to pull in ${queue}`);
    return result;
  };
  return { h, stats, feed, pull };
}

describe('ThroughputStats totals', () => {
  it('counts created jobs, pulls, acks and terminal failures only', () => {
    const { h, stats, feed, pull } = counted();
    const a = h.push('q', { maxAttempts: 1 });
    h.push('q', { maxAttempts: 1 });
    h.push('q', { maxAttempts: 2, backoff: 0 });
    h.push('q', { jobId: a }); // duplicate: creates nothing
    feed();
    assert.equal(stats.totalPushed, 3, 'a duplicate push creates no job');

    const first = pull('q');
    h.run((view, ctx) => decideAck(view, first.jobId, first.token, 'done', ctx));
    const second = pull('q');
    h.run((view, ctx) => decideFail(view, second.jobId, second.token, 'boom', ctx)); // maxAttempts 1: DLQ
    const third = pull('q');
    h.run((view, ctx) => decideFail(view, third.jobId, third.token, 'again', ctx)); // retried at once
    const retry = pull('q');
    h.run((view, ctx) => decideFail(view, retry.jobId, retry.token, 'last', ctx)); // second attempt of 2: DLQ
    feed();
    assert.equal(stats.totalPulled, 4, 'every pull entry is a pull, retries included');
    assert.equal(stats.totalCompleted, 1);
    assert.equal(stats.totalFailed, 2, 'the retried attempt is not a failed job');
  });

  it('counts removeOnFail as failed and a cancel as nothing', () => {
    const { h, stats, feed, pull } = counted();
    h.push('q', { maxAttempts: 1, removeOnFail: true });
    const cancelled = h.push('other', {});
    const p = pull('q');
    h.run((view, ctx) => decideFail(view, p.jobId, p.token, 'x', ctx));
    h.run((view, ctx) => decideCancel(view, cancelled, ctx));
    feed();
    assert.deepEqual(
      [stats.totalPushed, stats.totalPulled, stats.totalCompleted, stats.totalFailed],
      [2, 1, 0, 1],
    );
  });

  it('counts a repeat occurrence created by an ack as pushed', () => {
    const { h, stats, feed, pull } = counted();
    h.push('q', { repeat: { every: 1000, limit: 2 } });
    const p = pull('q');
    h.run((view, ctx) => decideAck(view, p.jobId, p.token, null, ctx));
    feed();
    assert.equal(stats.totalPushed, 2);
    assert.equal(stats.totalCompleted, 1);
  });

  it('reports pushPerSec and pullPerSec from the same entries', () => {
    const { h, stats, feed, pull } = counted();
    for (let i = 0; i < 4; i++) h.push('q', {});
    pull('q');
    feed();
    h.now += 2000;
    assert.equal(stats.pushPerSec, 2, '4 pushes over the 2 s since start');
    assert.equal(stats.pullPerSec, 0.5);
    h.now += 20_000;
    assert.equal(stats.pushPerSec, 0, 'out of the 10 s window');
  });
});

describe('SlidingRate', () => {
  it('never divides by less than one second', () => {
    let now = 1_000_000;
    const rate = new SlidingRate(10, () => now);
    rate.add(5);
    now += 10;
    assert.equal(rate.perSecond(), 5);
  });

  it('divides by the time since start while it is shorter than the window', () => {
    let now = 1_000_000;
    const rate = new SlidingRate(10, () => now);
    now += 1000;
    rate.add(6);
    now += 2000;
    assert.equal(rate.perSecond(), 2);
  });

  it('keeps the last ten seconds only, current partial second included', () => {
    let now = 1_000_000; // a whole second
    const rate = new SlidingRate(10, () => now);
    for (let second = 0; second < 15; second++) {
      now = 1_000_000 + second * 1000 + 100;
      rate.add(1);
    }
    now = 1_000_000 + 14 * 1000 + 500;
    // Seconds 5..14 are in the window: 10 events over 9.5 s.
    assert.equal(rate.perSecond(), 10 / 9.5);
    now += 60_000;
    assert.equal(rate.perSecond(), 0);
  });

  it('reuses a bucket once its second has left the window', () => {
    let now = 2_000_000;
    const rate = new SlidingRate(10, () => now);
    rate.add(100);
    now += 10_000; // same slot, ten seconds later
    rate.add(1);
    assert.equal(rate.perSecond(), 1 / 9);
  });
});
