import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelay } from '../../src/domain/backoff.ts';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { DomainError } from '../../src/domain/DomainError.ts';
import { Harness } from './fixtures.ts';

function pull(h: Harness, queue: string) {
  return h.run((view, ctx) => decidePull(view, queue, ctx));
}

function rejected(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

test('pull leases the job for the lock TTL, or for its timeout', () => {
  const h = new Harness();
  const plain = h.push('q', { priority: 2 });
  const timed = h.push('q', { timeout: 500 });
  const first = pull(h, 'q');
  assert.equal(first?.jobId, plain);
  const job = h.state.job(plain);
  assert.equal(job?.state, 'active');
  assert.equal(job?.startedAt, h.now);
  assert.equal(job?.attempts, 0);
  assert.equal(job?.leaseUntil, h.now + 30_000);
  assert.equal(job?.token, first?.token);
  pull(h, 'q');
  assert.equal(h.state.job(timed)?.leaseUntil, h.now + 500);
  assert.equal(pull(h, 'q'), null);
});

test('ack completes with the result; token is checked when given', () => {
  const h = new Harness();
  const id = h.push('q', {});
  const lease = pull(h, 'q');
  assert.equal(rejected(() => h.run((v, c) => decideAck(v, id, 'wrong', 1, c))).message, 'Invalid or expired lock token');
  h.now += 10;
  h.run((v, c) => decideAck(v, id, lease?.token, { ok: 1 }, c));
  const job = h.state.job(id);
  assert.equal(job?.state, 'completed');
  assert.deepEqual(job?.result, { ok: 1 });
  assert.equal(job?.completedAt, h.now);
  assert.equal(rejected(() => h.run((v, c) => decideAck(v, id, undefined, 1, c))).message, 'Job not found or not active');
  assert.equal(rejected(() => h.run((v, c) => decideAck(v, 'nope', undefined, 1, c))).code, 'not_active');
});

test('fail retries with exponential backoff, then lands in the DLQ', () => {
  const h = new Harness();
  const id = h.push('q', { maxAttempts: 3, backoff: 100 });
  pull(h, 'q');
  h.run((v, c) => decideFail(v, id, undefined, 'boom', c));
  let job = h.state.job(id);
  assert.equal(job?.state, 'delayed');
  assert.equal(job?.attempts, 1);
  assert.equal(job?.runAt, h.now + 100);
  assert.equal(pull(h, 'q'), null, 'not pullable before it is due');
  h.now += 100;
  assert.equal(h.run((v, c) => decideDue(v, c)), 1);
  pull(h, 'q');
  h.run((v, c) => decideFail(v, id, undefined, 'boom', c));
  assert.equal(h.state.job(id)?.runAt, h.now + 200, 'second retry waits twice as long');
  h.now += 200;
  h.run((v, c) => decideDue(v, c));
  pull(h, 'q');
  h.run((v, c) => decideFail(v, id, undefined, 'final', c));
  job = h.state.job(id);
  assert.equal(job?.state, 'failed');
  assert.equal(job?.attempts, 3);
  assert.equal(job?.error, 'final');
});

test('a zero backoff retries at once; removeOnFail and removeOnComplete drop the job', () => {
  const h = new Harness();
  const retry = h.push('q', { backoff: 0 });
  pull(h, 'q');
  h.run((v, c) => decideFail(v, retry, undefined, 'x', c));
  assert.equal(h.state.job(retry)?.state, 'waiting');

  const gone = h.push('r', { maxAttempts: 1, removeOnFail: true });
  pull(h, 'r');
  h.run((v, c) => decideFail(v, gone, undefined, 'x', c));
  assert.equal(h.state.job(gone), undefined);

  const done = h.push('s', { removeOnComplete: true });
  pull(h, 's');
  h.run((v, c) => decideAck(v, done, undefined, null, c));
  assert.equal(h.state.job(done), undefined);
});

test('backoff shapes: exponential capped at an hour, fixed, jitter shortens', () => {
  assert.equal(retryDelay(1000, 1, Math.random), 1000);
  assert.equal(retryDelay(1000, 4, Math.random), 8000);
  assert.equal(retryDelay(1000, 30, Math.random), 3_600_000);
  assert.equal(retryDelay({ type: 'fixed', delay: 250 }, 5, Math.random), 250);
  assert.equal(retryDelay({ type: 'exponential', delay: 1000, jitter: 0.5 }, 1, () => 1), 500);
  assert.equal(retryDelay({ type: 'exponential', delay: 1000, jitter: 0.5 }, 1, () => 0), 1000);
});

test('cancel works in any state and releases the unique key; unknown id is not_found', () => {
  const h = new Harness();
  const id = h.push('q', { uniqueKey: 'u' });
  pull(h, 'q');
  h.run((v, c) => decideCancel(v, id, c));
  assert.equal(h.state.job(id), undefined);
  assert.equal(h.state.uniqueHolder('q', 'u'), undefined);
  assert.equal(rejected(() => h.run((v, c) => decideCancel(v, id, c))).code, 'not_found');
  assert.equal(rejected(() => h.run((v, c) => decideAck(v, id, undefined, null, c))).code, 'not_active');
});

test('dependencies: waiting-children until all complete; a failed one fails the dependents transitively', () => {
  const h = new Harness();
  const a = h.push('q', {});
  const b = h.push('q', {});
  const child = h.push('q', { dependsOn: [a, b] });
  const grandchild = h.push('q', { dependsOn: [child] });
  assert.equal(h.state.job(child)?.state, 'waiting-children');
  pull(h, 'q');
  h.run((v, c) => decideAck(v, a, undefined, null, c));
  assert.equal(h.state.job(child)?.state, 'waiting-children');
  pull(h, 'q');
  h.run((v, c) => decideAck(v, b, undefined, null, c));
  assert.equal(h.state.job(child)?.state, 'waiting');

  const x = h.push('r', { maxAttempts: 1 });
  const y = h.push('r', { dependsOn: [x] });
  const z = h.push('r', { dependsOn: [y] });
  pull(h, 'r');
  h.run((v, c) => decideFail(v, x, undefined, 'no', c));
  assert.equal(h.state.job(y)?.state, 'failed');
  assert.equal(h.state.job(y)?.error, `dependency failed: ${x}`);
  assert.equal(h.state.job(z)?.error, `dependency failed: ${y}`);
  assert.equal(h.state.job(grandchild)?.state, 'waiting-children');
});

test('drained is decided when the last ready job is taken', () => {
  const h = new Harness();
  h.push('q', {});
  h.push('q', {});
  const decisions: boolean[] = [];
  for (let i = 0; i < 2; i++) {
    h.run((view, ctx) => {
      const decided = decidePull(view, 'q', ctx);
      const entry = decided.entries[0];
      if (entry?.type === 'pull') decisions.push(entry.drained);
      return decided;
    });
  }
  assert.deepEqual(decisions, [false, true]);
});
