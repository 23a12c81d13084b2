import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePull } from '../../src/domain/decidePull.ts';
import { Harness } from '../domain/fixtures.ts';

function drain(h: Harness, queue: string): string[] {
  const order: string[] = [];
  for (;;) {
    const lease = h.run((view, ctx) => decidePull(view, queue, ctx));
    if (!lease) return order;
    order.push(h.state.job(lease.jobId)?.data as string);
  }
}

test('priority first, then LIFO newest first, then FIFO by runAt and push order', () => {
  const h = new Harness();
  h.push('q', { data: 'fifo-1' });
  h.push('q', { data: 'lifo-1', lifo: true });
  h.push('q', { data: 'high', priority: 5 });
  h.push('q', { data: 'fifo-2' });
  h.push('q', { data: 'lifo-2', lifo: true });
  h.push('q', { data: 'low', priority: -1 });
  assert.deepEqual(drain(h, 'q'), ['high', 'lifo-2', 'lifo-1', 'fifo-1', 'fifo-2', 'low']);
});

test('equal priority across groups is served round-robin', () => {
  const h = new Harness();
  for (let i = 0; i < 3; i++) h.push('q', { data: `a${i}`, groupId: 'a' });
  for (let i = 0; i < 3; i++) h.push('q', { data: `b${i}`, groupId: 'b' });
  h.push('q', { data: 'c0', groupId: 'c' });
  assert.deepEqual(drain(h, 'q'), ['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'b2']);
});

test('a group refilled after emptying does not jump ahead of waiting groups', () => {
  const h = new Harness();
  h.push('q', { data: 'a0', groupId: 'a' });
  h.push('q', { data: 'b0', groupId: 'b' });
  h.push('q', { data: 'b1', groupId: 'b' });
  const first = h.run((view, ctx) => decidePull(view, 'q', ctx));
  assert.equal(h.state.job(first!.jobId)?.data, 'a0');
  h.push('q', { data: 'a1', groupId: 'a' });
  assert.deepEqual(drain(h, 'q'), ['b0', 'a1', 'b1']);
});

test('10 000 jobs in 100 groups: every window of 100 pulls serves each group once', () => {
  const h = new Harness();
  for (let g = 0; g < 100; g++) for (let i = 0; i < 100; i++) h.push('q', { data: `${g}`, groupId: `g${g}` });
  const order = drain(h, 'q');
  assert.equal(order.length, 10_000);
  for (let window = 0; window < 100; window++) {
    assert.equal(new Set(order.slice(window * 100, window * 100 + 100)).size, 100);
  }
});
