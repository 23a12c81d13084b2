import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { evictable, nextEviction } from '../../src/domain/retention.ts';
import { Harness } from './fixtures.ts';

function complete(h: Harness, queue: string, count: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = h.push(queue, { uniqueKey: `u${i}` });
    h.run((v, c) => decidePull(v, queue, c));
    h.run((v, c) => decideAck(v, id, undefined, null, c));
    ids.push(id);
    h.now += 10;
  }
  return ids;
}

test('completed jobs leave memory after their retention age, oldest first, by a logged evict entry', () => {
  const h = new Harness();
  h.retention = { completedMs: 100, completedMax: 1000, failedMs: 1000, failedMax: 1000 };
  const ids = complete(h, 'q', 5); // finished at t0, t0+10, ... t0+40; now = t0+50
  assert.equal(nextEviction(h.state, h.retention), h.now - 50 + 100);
  h.now += 65; // t0+115: the first two are older than 100 ms
  h.run((v, c) => decideDue(v, c));
  assert.equal(h.state.job(ids[0]), undefined);
  assert.equal(h.state.job(ids[1]), undefined);
  assert.equal(h.state.job(ids[2])?.state, 'completed');
  const last = h.log[h.log.length - 1][0];
  assert.equal(last.type, 'evict');
  assert.equal(h.state.totals().completed, 3);
});

test('over the count limit the oldest go, down to 90% of it', () => {
  const h = new Harness();
  h.retention = { completedMs: Infinity, completedMax: 10, failedMs: Infinity, failedMax: 10 };
  const ids = complete(h, 'q', 12);
  assert.equal(nextEviction(h.state, h.retention), 0, 'over the limit: due now');
  assert.deepEqual(evictable(h.state, h.retention, h.now, 1000), ids.slice(0, 3));
  h.run((v, c) => decideDue(v, c));
  assert.equal(h.state.retired('completed').count, 9);
  assert.equal(nextEviction(h.state, h.retention), null);
});

test('DLQ entries have their own limit; the evicted job id and key are free again', () => {
  const h = new Harness();
  h.retention = { completedMs: Infinity, completedMax: Infinity, failedMs: 50, failedMax: 100 };
  const id = h.push('q', { maxAttempts: 1, jobId: 'J' });
  h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decideFail(v, id, undefined, 'x', c));
  assert.equal(h.state.job('J')?.state, 'failed');
  h.now += 50;
  h.run((v, c) => decideDue(v, c));
  assert.equal(h.state.job('J'), undefined);
  assert.equal(h.push('q', { jobId: 'J' }), 'J');
  assert.equal(h.state.job('J')?.state, 'waiting');
});
