import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { DomainError } from '../../src/domain/DomainError.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { Harness } from './fixtures.ts';

test('push applies the contract defaults', () => {
  const h = new Harness();
  const job = h.state.job(h.push('q', { data: { a: 1 } }));
  assert.ok(job);
  assert.equal(job.state, 'waiting');
  assert.equal(job.priority, 0);
  assert.equal(job.maxAttempts, 3);
  assert.equal(job.backoff, 1000);
  assert.deepEqual(job.tags, []);
  assert.equal(job.createdAt, h.now);
  assert.equal(job.runAt, h.now);
});

test('delay makes the job delayed until createdAt + delay', () => {
  const h = new Harness();
  const job = h.state.job(h.push('q', { delay: 500 }));
  assert.equal(job?.state, 'delayed');
  assert.equal(job?.runAt, h.now + 500);
});

test('jobId is global across queues: a second push returns the id and logs only a duplicate', () => {
  const h = new Harness();
  assert.equal(h.push('a', { jobId: 'x' }), 'x');
  const options = parsePushOptions({ data: 2, jobId: 'x' });
  assert.ok(options.ok);
  const decided = decidePush(h.state, 'b', options.value, h.ctx());
  assert.ok(!(decided instanceof DomainError));
  assert.deepEqual(decided.result, { id: 'x', created: false });
  assert.deepEqual(decided.entries.map((e) => e.type), ['duplicate']);
});

test('uniqueKey is per queue and held until the job ends', () => {
  const h = new Harness();
  const first = h.push('a', { uniqueKey: 'k' });
  assert.equal(h.push('a', { uniqueKey: 'k' }), first);
  assert.notEqual(h.push('b', { uniqueKey: 'k' }), first);
  h.run((view, ctx) => decideCancel(view, first, ctx));
  assert.notEqual(h.push('a', { uniqueKey: 'k' }), first);
});

test('unknown dependency is refused with the semantics message', () => {
  const h = new Harness();
  assert.throws(() => h.push('q', { dependsOn: ['nope'] }), (err: Error) => err.message === 'Dependency job not found: nope');
});

test('validation names the field', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{}, 'data is required'],
    [{ data: 1, priority: 'x' }, 'priority must be a finite number'],
    [{ data: 1, delay: -1 }, 'delay'],
    [{ data: 1, maxAttempts: 0 }, 'maxAttempts'],
    [{ data: 1, maxAttempts: 1.5 }, 'maxAttempts'],
    [{ data: 1, backoff: -5 }, 'backoff'],
    [{ data: 1, ttl: -1 }, 'ttl'],
    [{ data: 1, timeout: 0 }, 'timeout'],
    [{ data: 1, tags: [1] }, 'tags'],
    [{ data: 1, jobId: '' }, 'jobId'],
    [{ data: 1, jobId: 'x'.repeat(257) }, 'jobId'],
    [{ data: 1, groupId: 5 }, 'groupId'],
    [{ data: 1, lifo: 'yes' }, 'lifo'],
    [{ data: 1, repeat: { every: 0 } }, 'repeat.every'],
    [{ data: 1, repeat: { every: 10, limit: 0 } }, 'repeat.limit'],
    [{ data: 'x'.repeat(10 * 1024 * 1024 + 1) }, 'data too large'],
  ];
  for (const [body, message] of cases) {
    const parsed = parsePushOptions(body);
    assert.equal(parsed.ok, false, JSON.stringify(body).slice(0, 80));
    if (!parsed.ok) assert.ok(parsed.error.includes(message), `${parsed.error} should mention ${message}`);
  }
  for (const body of [[], 'x', 5, null]) assert.deepEqual(parsePushOptions(body), { ok: false, error: 'Invalid JSON body' });
});
