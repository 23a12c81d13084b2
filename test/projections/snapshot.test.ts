import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decideProgress } from '../../src/domain/decideProgress.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { Harness } from '../domain/fixtures.ts';

/** A workload touching every kind of state, index and group mark. */
function busy(h: Harness, rounds: number, tag: string): void {
  for (let i = 0; i < rounds; i++) {
    h.push('a', { data: `${tag}${i}`, groupId: `g${i % 3}`, priority: i % 2, uniqueKey: i % 5 === 0 ? `${tag}u${i}` : undefined });
    h.push('b', { data: i, delay: (i % 4) * 100, ttl: i % 7 === 0 ? 50 : undefined, lifo: i % 2 === 0 });
    const parent = h.push('c', { data: i, maxAttempts: 2, backoff: 10, repeat: i % 6 === 0 ? { every: 100, limit: 3 } : undefined });
    h.push('c', { data: `child${i}`, dependsOn: [parent] });
    const lease = h.run((v, c) => decidePull(v, i % 2 ? 'a' : 'c', c));
    if (lease && i % 3 === 0) h.run((v, c) => decideAck(v, lease.jobId, lease.token, { i }, c));
    else if (lease && i % 3 === 1) h.run((v, c) => decideFail(v, lease.jobId, lease.token, 'x', c));
    else if (lease) h.run((v, c) => decideProgress(v, lease.jobId, lease.token, 50, 'half', c));
    if (i % 9 === 0 && lease) h.run((v, c) => decideCancel(v, lease.jobId, c));
    h.now += 37;
    h.run((v, c) => decideDue(v, c));
  }
}

function dump(state: QueueProjection): unknown {
  const jobs = [];
  for (let i = 1; i < 100_000; i++) {
    const job = state.job(`id-${i}`);
    if (job) jobs.push({ ...job, heapIndex: undefined, ttlIndex: undefined, snapshotEpoch: undefined, changedAt: undefined });
  }
  return { jobs, totals: state.totals(), deadline: state.nextDeadline(), position: state.position };
}

/** Pulls everything from both states with the same decisions: same heap order, same group turns. */
function pullOrder(h: Harness, state: QueueProjection, queues = ['a', 'b', 'c']): string[] {
  const saved = h.state;
  h.state = state;
  const order: string[] = [];
  for (const queue of queues) {
    for (;;) {
      const lease = h.run((v, c) => decidePull(v, queue, c));
      if (!lease) break;
      order.push(lease.jobId);
    }
  }
  h.state = saved;
  return order;
}

async function restoreAndReplay(h: Harness, snapshotAt: number, header: Parameters<typeof QueueProjection.restore>[0], records: unknown[]) {
  const restored = await QueueProjection.restore(header, records);
  for (const [entry, position] of h.log) if (position > snapshotAt) restored.apply(entry, position);
  return restored;
}

test('snapshot + tail replay equals the live state, even when the state moves on while the snapshot is read', async () => {
  const h = new Harness();
  busy(h, 60, 'x');
  // Small chunks, so the state changes between chunks while the snapshot is read.
  const { header, records } = h.state.snapshot(3);
  const read: unknown[] = [];
  const iterator = records[Symbol.iterator]();
  // Read a third, change a lot (including jobs not read yet), read the rest.
  for (let i = 0; i < 15; i++) {
    const next = iterator.next();
    if (!next.done) read.push(structuredClone(next.value));
  }
  busy(h, 60, 'y');
  for (let next = iterator.next(); !next.done; next = iterator.next()) read.push(structuredClone(next.value));

  const restored = await restoreAndReplay(h, header.position, header, read);
  assert.deepEqual(dump(restored), dump(h.state));

  // A full replay from nothing agrees too.
  const replayed = new QueueProjection();
  for (const [entry, position] of h.log) replayed.apply(entry, position);
  assert.deepEqual(dump(replayed), dump(h.state));

  const expected = pullOrder(h, replayed);
  assert.ok(expected.length > 20);
  assert.deepEqual(pullOrder(h, restored), expected);
});

test('only one snapshot at a time; the next may start once the previous was read', () => {
  const h = new Harness();
  h.push('q', {});
  const first = h.state.snapshot();
  assert.throws(() => h.state.snapshot(), /already/);
  assert.equal([...first.records].length, 1);
  assert.equal([...h.state.snapshot().records].length, 1);
});

test('group turns survive a snapshot: the group served longest ago goes next', async () => {
  const h = new Harness();
  for (const group of ['g0', 'g1', 'g2']) for (let i = 0; i < 3; i++) h.push('q', { groupId: group });
  h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decidePull(v, 'q', c));
  const { header, records } = h.state.snapshot();
  const restored = await QueueProjection.restore(header, [...records]);
  const expected = pullOrder(h, h.state, ['q']);
  assert.equal(expected.length, 7);
  assert.deepEqual(pullOrder(h, restored, ['q']), expected);
});
