// Dependency rules at scale and across id reuse, on the pure rules with an injected clock:
// - a 100 000-job dependsOn chain fails end to end (cancel, ttl) without recursion;
// - a dependency that completed counts as completed whatever later happens to its id
//   (removed, evicted, reused by a new job), also after a snapshot restore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { Harness } from './fixtures.ts';

const CHAIN = 100_000;

/** Root plus `length` jobs, each depending on the one before. */
function chain(h: Harness, queue: string, length: number, root: Record<string, unknown> = {}): string[] {
  const ids = [h.push(queue, { jobId: `${queue}-0`, ...root })];
  for (let i = 1; i <= length; i++) ids.push(h.push(queue, { jobId: `${queue}-${i}`, dependsOn: [ids[i - 1]] }));
  return ids;
}

function complete(h: Harness, id: string): void {
  const job = h.state.job(id);
  assert.equal(job?.state, 'waiting', `${id} should be pullable`);
  const lease = h.run((v, c) => decidePull(v, job.queue, c));
  assert.equal(lease?.jobId, id);
  h.run((v, c) => decideAck(v, id, lease?.token, null, c));
}

/** A projection rebuilt from a snapshot of `h`'s state, as a restart does. */
async function restored(h: Harness): Promise<QueueProjection> {
  const snapshot = h.state.snapshot();
  return QueueProjection.restore(snapshot.header, [...snapshot.records]);
}

describe('long dependsOn chains', () => {
  it(`cancelling the root of a ${CHAIN}-job chain fails every job down to the tail`, () => {
    const h = new Harness();
    const ids = chain(h, 'c', CHAIN);
    h.run((v, c) => decideCancel(v, ids[0], c));
    assert.equal(h.state.job(ids[0]), undefined);
    const tail = h.state.job(ids[CHAIN]);
    assert.equal(tail?.state, 'failed');
    assert.equal(tail?.error, `dependency failed: ${ids[CHAIN - 1]}`);
    assert.equal(h.state.job(ids[1])?.error, `dependency failed: ${ids[0]}`);
    assert.equal(h.state.countsOf('c').failed, CHAIN);
  });

  it(`a root whose ttl expires fails a ${CHAIN}-job chain in one scheduler decision`, () => {
    const h = new Harness();
    const ids = chain(h, 't', CHAIN, { ttl: 1000 });
    h.now += 1000;
    h.run((v, c) => decideDue(v, c));
    assert.equal(h.state.job(ids[0])?.error, 'ttl expired');
    assert.equal(h.state.job(ids[CHAIN])?.state, 'failed');
    assert.equal(h.state.countsOf('t').failed, CHAIN + 1);
  });

  it('failing dependents keeps depth-first order: each entry names its direct parent', () => {
    const h = new Harness();
    const root = h.push('d', { jobId: 'r', maxAttempts: 1 });
    h.push('d', { jobId: 'a', dependsOn: ['r'] });
    h.push('d', { jobId: 'a1', dependsOn: ['a'] });
    h.push('d', { jobId: 'b', dependsOn: ['r'] });
    h.push('d', { jobId: 'ab', dependsOn: ['a', 'b'] });
    const lease = h.run((v, c) => decidePull(v, 'd', c));
    const before = h.log.length;
    h.run((v, c) => decideFail(v, root, lease?.token, 'boom', c));
    const failed = h.log.slice(before).map(([e]) => (e.type === 'fail' ? `${e.jobId}<${e.error}` : e.type));
    assert.deepEqual(failed, [
      'r<boom',
      'a<dependency failed: r',
      'a1<dependency failed: a',
      'ab<dependency failed: a',
      'b<dependency failed: r',
    ]);
  });
});

describe('a completed dependency stays completed when its id is reused', () => {
  const retention = { completedMs: 0, completedMax: Infinity, failedMs: Infinity, failedMax: Infinity };

  it('B waiting on A and C: A completes and is evicted, a new A is pushed, C completes → B is waiting', () => {
    const h = new Harness();
    h.retention = retention;
    h.push('q', { jobId: 'A' });
    h.push('q', { jobId: 'C', delay: 1000 });
    h.push('q', { jobId: 'B', dependsOn: ['A', 'C'] });
    complete(h, 'A');
    h.run((v, c) => decideDue(v, c)); // evicts A
    assert.equal(h.state.job('A'), undefined);
    h.push('q', { jobId: 'A', data: 'new A', delay: 60_000 });
    h.now += 1000;
    h.run((v, c) => decideDue(v, c)); // C due
    complete(h, 'C');
    assert.equal(h.state.job('B')?.state, 'waiting');
  });

  it('with removeOnComplete, and the new A failing: B is not failed by a job it never named', () => {
    const h = new Harness();
    h.push('q', { jobId: 'A', removeOnComplete: true });
    h.push('q', { jobId: 'C', delay: 1000 });
    h.push('q', { jobId: 'B', dependsOn: ['A', 'C'] });
    complete(h, 'A');
    assert.equal(h.state.job('A'), undefined);
    h.push('q', { jobId: 'A', maxAttempts: 1 });
    const lease = h.run((v, c) => decidePull(v, 'q', c));
    assert.equal(lease?.jobId, 'A');
    h.run((v, c) => decideFail(v, 'A', lease?.token, 'boom', c));
    assert.equal(h.state.job('B')?.state, 'waiting-children');
    h.now += 1000;
    h.run((v, c) => decideDue(v, c));
    complete(h, 'C');
    assert.equal(h.state.job('B')?.state, 'waiting');
  });

  it('a job pushed on the new A waits for the new A, and fails with it', () => {
    const h = new Harness();
    h.push('q', { jobId: 'A', removeOnComplete: true });
    complete(h, 'A');
    h.push('q', { jobId: 'A', maxAttempts: 1 });
    h.push('q', { jobId: 'D', dependsOn: ['A'] });
    assert.equal(h.state.job('D')?.state, 'waiting-children');
    const lease = h.run((v, c) => decidePull(v, 'q', c));
    h.run((v, c) => decideFail(v, 'A', lease?.token, 'boom', c));
    assert.equal(h.state.job('D')?.error, 'dependency failed: A');
  });

  it('after a restore, completing C resolves B even though the snapshot holds a newer A', async () => {
    const h = new Harness();
    h.push('q', { jobId: 'A', removeOnComplete: true });
    h.push('q', { jobId: 'C' });
    h.push('q', { jobId: 'B', dependsOn: ['A', 'C'] });
    complete(h, 'A');
    h.push('q', { jobId: 'A', delay: 60_000 });
    h.state = await restored(h);
    complete(h, 'C');
    assert.equal(h.state.job('B')?.state, 'waiting');
    assert.deepEqual([...h.state.dependentsOf('A')], [], 'B is not indexed under the new A');
  });
});
