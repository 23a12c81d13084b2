import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue, LEASE_EXPIRED, TIMEOUT_EXCEEDED, TTL_EXPIRED } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decideProgress } from '../../src/domain/decideProgress.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { DomainError } from '../../src/domain/DomainError.ts';
import type { Entry } from '../../src/domain/entries.ts';
import { eventsOf } from '../../src/projections/jobEvents.ts';
import { Harness } from './fixtures.ts';

const pull = (h: Harness, queue: string) => h.run((v, c) => decidePull(v, queue, c));
const tick = (h: Harness) => h.run((v, c) => decideDue(v, c));

function eventTypes(h: Harness): string[] {
  const types: string[] = [];
  const apply = h.state.apply.bind(h.state);
  h.state.apply = (entry: Entry, position: number) => {
    apply(entry, position);
    for (const event of eventsOf(entry)) types.push(event.eventType);
  };
  return types;
}

test('an expired lease stalls the attempt: stalled, counted, retried; the old token is refused', () => {
  const h = new Harness();
  const id = h.push('q', { backoff: 0, maxAttempts: 2 });
  const first = pull(h, 'q');
  const events = eventTypes(h);
  h.now += 29_999;
  tick(h);
  assert.equal(h.state.job(id)?.state, 'active', 'not before the lease ends');
  h.now += 1;
  tick(h);
  const job = h.state.job(id);
  assert.equal(job?.state, 'waiting');
  assert.equal(job?.attempts, 1);
  assert.equal(job?.error, LEASE_EXPIRED);
  assert.deepEqual(events, ['stalled', 'failed', 'retried']);
  const second = pull(h, 'q');
  assert.notEqual(second?.token, first?.token);
  assert.throws(() => h.run((v, c) => decideAck(v, id, first?.token, null, c)), (e: DomainError) => e.code === 'bad_token');
  h.now += 30_000;
  tick(h);
  assert.equal(h.state.job(id)?.state, 'failed', 'the last attempt stalls into the DLQ');
});

test('progress renews the lease and records progress', () => {
  const h = new Harness();
  const id = h.push('q', {});
  pull(h, 'q');
  const events = eventTypes(h);
  h.now += 20_000;
  h.run((v, c) => decideProgress(v, id, undefined, 40, 'halfway', c));
  assert.equal(h.state.job(id)?.leaseUntil, h.now + 30_000);
  assert.equal(h.state.job(id)?.progress, 40);
  assert.equal(h.state.job(id)?.progressMessage, 'halfway');
  h.now += 20_000;
  tick(h);
  assert.equal(h.state.job(id)?.state, 'active', 'renewed lease still holds');
  assert.deepEqual(events, ['progress']);
  assert.throws(() => h.run((v, c) => decideProgress(v, 'nope', undefined, 1, undefined, c)), DomainError);
});

test('timeout fails the attempt at startedAt + timeout, whatever the progress', () => {
  const h = new Harness();
  const id = h.push('q', { timeout: 100, maxAttempts: 1 });
  pull(h, 'q');
  h.now += 60;
  h.run((v, c) => decideProgress(v, id, undefined, 10, undefined, c));
  h.now += 40;
  tick(h);
  const job = h.state.job(id);
  assert.equal(job?.state, 'failed');
  assert.equal(job?.error, TIMEOUT_EXCEEDED);
  assert.throws(() => h.run((v, c) => decideAck(v, id, undefined, null, c)), (e: DomainError) => e.message === 'Job not found or not active');
});

test('ttl: a job not started in time goes to the DLQ (or is removed); none once started', () => {
  const h = new Harness();
  const waiting = h.push('q', { ttl: 100 });
  const delayed = h.push('r', { ttl: 100, delay: 500 });
  const removed = h.push('s', { ttl: 100, removeOnFail: true });
  const started = h.push('t', { ttl: 100 });
  pull(h, 't');
  const events = eventTypes(h);
  h.now += 100;
  tick(h);
  assert.equal(h.state.job(waiting)?.state, 'failed');
  assert.equal(h.state.job(waiting)?.error, TTL_EXPIRED);
  assert.equal(h.state.job(delayed)?.state, 'failed');
  assert.equal(h.state.job(removed), undefined);
  assert.equal(h.state.job(started)?.state, 'active');
  assert.deepEqual(events, ['failed', 'failed', 'failed']);
  assert.equal(h.state.nextDeadline(), h.state.job(started)?.leaseUntil);
});

test('repeat: next occurrence at the first future slot, limit counts all, no catch-up', () => {
  const h = new Harness();
  const start = h.now;
  const first = h.push('q', { repeat: { every: 1000, limit: 3 } });
  pull(h, 'q');
  h.now += 2500; // ran long: slots at +1000 and +2000 are gone
  h.run((v, c) => decideAck(v, first, undefined, null, c));
  const second = findLive(h, 'q', first);
  assert.ok(second);
  assert.equal(second.state, 'delayed');
  assert.equal(second.runAt, start + 3000);
  assert.equal(second.occurrence, 2);
  h.now = start + 3000;
  tick(h);
  pull(h, 'q');
  h.run((v, c) => decideFail(v, second.id, undefined, 'x', c));
  h.now += 10_000;
  tick(h);
  pull(h, 'q');
  h.run((v, c) => decideFail(v, second.id, undefined, 'x', c));
  h.now += 10_000;
  tick(h);
  pull(h, 'q');
  h.run((v, c) => decideFail(v, second.id, undefined, 'x', c));
  assert.equal(h.state.job(second.id)?.state, 'failed', 'DLQ also ends an occurrence');
  const third = findLive(h, 'q', first, second.id);
  assert.ok(third, 'the chain goes on after a DLQ');
  assert.equal(third.occurrence, 3);
  assert.equal(third.runAt, start + 24_000, 'first slot after the DLQ time (start + 23 000), one occurrence only');
  h.now = third.runAt;
  tick(h);
  pull(h, 'q');
  h.run((v, c) => decideAck(v, third.id, undefined, null, c));
  assert.equal(findLive(h, 'q', first, second.id, third.id), undefined, 'limit 3 reached');
});

test('cancel ends a repeat chain and fails dependents', () => {
  const h = new Harness();
  const job = h.push('q', { repeat: { every: 10 } });
  const child = h.push('q', { dependsOn: [job] });
  h.run((v, c) => decideCancel(v, job, c));
  assert.equal(findLive(h, 'q', job, child), undefined);
  assert.equal(h.state.job(child)?.error, `dependency failed: ${job}`);
});

test('uniqueKey is held across retries and released at the DLQ', () => {
  const h = new Harness();
  const id = h.push('q', { uniqueKey: 'k', maxAttempts: 2, backoff: 10 });
  pull(h, 'q');
  h.run((v, c) => decideFail(v, id, undefined, 'x', c));
  assert.equal(h.push('q', { uniqueKey: 'k' }), id);
  h.now += 10;
  tick(h);
  pull(h, 'q');
  h.run((v, c) => decideFail(v, id, undefined, 'x', c));
  assert.notEqual(h.push('q', { uniqueKey: 'k' }), id);
});

test('a delayed job whose ttl passed fails rather than becoming ready in the same tick', () => {
  const h = new Harness();
  const id = h.push('q', { delay: 100, ttl: 50 });
  h.now += 200;
  assert.equal(tick(h), 2);
  assert.equal(h.state.job(id)?.state, 'failed');
  assert.equal(h.state.readyCount('q'), 0);
});

/** The one live job of `queue` other than `except`. */
function findLive(h: Harness, queue: string, ...except: string[]) {
  for (let i = 1; i < 1000; i++) {
    const job = h.state.job(`id-${i}`);
    if (job && job.queue === queue && !except.includes(job.id) && job.state !== 'completed' && job.state !== 'failed') return job;
  }
  return undefined;
}
