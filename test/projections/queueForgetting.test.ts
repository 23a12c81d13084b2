// The projection forgets a queue as soon as no job of it is retained (any state), and a
// snapshot restore drops queues that older snapshots kept only for their served marks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { Harness } from '../domain/fixtures.ts';

test('a queue is kept while any job of it is retained, and forgotten when the last one leaves', () => {
  const h = new Harness();
  h.retention = { completedMs: 1000, completedMax: Infinity, failedMs: Infinity, failedMax: Infinity };
  const done = h.push('q', { groupId: 'g' });
  const cancelled = h.push('q', { delay: 5000 });
  const lease = h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decideAck(v, done, lease?.token, null, c));
  h.run((v, c) => decideCancel(v, cancelled, c));
  assert.deepEqual(h.state.queueNames(), ['q'], 'the completed job is still retained');
  h.now += 1000;
  h.run((v, c) => decideDue(v, c));
  assert.deepEqual(h.state.queueNames(), []);
  assert.deepEqual(h.state.countsOf('q'), { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, 'waiting-children': 0 });
  assert.deepEqual(h.state.snapshot().header.served, [], 'its groups\' served marks went with it');
  const again = h.push('q', {});
  assert.equal(h.state.nextReady('q')?.id, again);
});

test('restore drops a queue that an older snapshot kept only for its served marks', async () => {
  const header = { version: 3, position: 10, serveClock: 4, served: [['empty', 'g', 4] as [string, string, number]] };
  const state = await QueueProjection.restore(header, []);
  assert.deepEqual(state.queueNames(), []);
});
