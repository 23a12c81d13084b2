// dependsOn: unknown ids are refused; a job waits in `waiting-children` (not
// pullable) until every dependency completed, then becomes `waiting`. A
// dependency that lands in the DLQ (fail, timeout, ttl) or is cancelled (in
// any state) fails the job with "dependency failed: <id>", transitively.
// Cancel also releases the cancelled job's uniqueKey.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';
import { assertAnswer, NOT_ACTIVE, observe, observeState, viewOrNull } from '../support/lifecycle.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

const depFailed = (id: string) => `dependency failed: ${id}`;

async function state(id: string): Promise<string | null> {
  return (await viewOrNull(srv, id))?.state ?? null;
}

/** Pulls `q` and acks what it got; asserts it was `id`. */
async function runJob(q: string, id: string): Promise<void> {
  const p = await srv.pull(q);
  assert.equal(p.job?.id, id, `expected to pull ${id}: ${p.res.describe}`);
  assertAnswer(await srv.ack(id, { token: p.token }), 200, { ok: true });
}

describe('dependsOn: push', () => {
  it('an unknown dependency is refused with 400 Dependency job not found: <id>, and nothing is created', async () => {
    const q = qname('dep');
    const known = await srv.push(q, { data: 'known', delay: 60_000 });
    for (const dependsOn of [['no-such-job'], [known, 'missing-2']]) {
      const missing = dependsOn.find((d) => d !== known)!;
      const r = await srv.pushRaw(q, { data: 'child', dependsOn });
      assertAnswer(r, 400, { ok: false, error: `Dependency job not found: ${missing}` });
    }
    assert.equal((await srv.pull(q)).job, null, 'a refused push created a job');
    await srv.cancel(known);
  });

  it('a dependency already completed counts as done: the job is waiting at once', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep' });
    await runJob(q, dep);
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    const v = await srv.getJob(child);
    assert.equal(v.state, 'waiting');
    assert.deepEqual(v.dependsOn, [dep]);
    await runJob(q, child);
  });

  it('a dependency already in the DLQ: the job is created and fails at once', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', maxAttempts: 1 });
    const p = await srv.pull(q);
    assertAnswer(await srv.fail(dep, { token: p.token }), 200, { ok: true });
    const r = await srv.pushRaw(q, { data: 'child', dependsOn: [dep] });
    assert.equal(r.status, 200, r.describe);
    const v = await srv.getJob(r.json.id);
    assert.equal(v.state, 'failed');
    assert.equal(v.error, depFailed(dep));
  });
});

describe('dependsOn: release', () => {
  it('waits in waiting-children (not pullable) until every dependency completed, across queues', async () => {
    const qa = qname('dep-a');
    const qb = qname('dep-b');
    const qc = qname('dep-c');
    const a = await srv.push(qa, { data: 'a' });
    const b = await srv.push(qb, { data: 'b' });
    const child = await srv.push(qc, { data: 'child', dependsOn: [a, b], priority: 10 });
    const v = await srv.getJob(child);
    assert.equal(v.state, 'waiting-children');
    assert.deepEqual(v.dependsOn, [a, b]);
    assert.equal((await srv.pull(qc)).job, null, 'a waiting-children job was handed out');
    assertAnswer(await srv.ack(child), 400, NOT_ACTIVE);
    await runJob(qa, a);
    assert.equal(await state(child), 'waiting-children', 'released after one of two dependencies');
    assert.equal((await srv.pull(qc)).job, null);
    await runJob(qb, b);
    assert.equal(await state(child), 'waiting');
    await runJob(qc, child);
  });

  it('a dependency that fails with attempts left does not fail the job; its later success releases it', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', backoff: 0, maxAttempts: 2 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    const p = await srv.pull(q);
    assertAnswer(await srv.fail(dep, { token: p.token, error: 'transient' }), 200, { ok: true });
    assert.equal(await state(dep), 'waiting');
    assert.equal(await state(child), 'waiting-children');
    await runJob(q, dep);
    assert.equal(await state(child), 'waiting');
    await runJob(q, child);
  });

  it('transitive release: A ← B ← C', async () => {
    const q = qname('dep');
    const a = await srv.push(q, { data: 'a' });
    const b = await srv.push(q, { data: 'b', dependsOn: [a] });
    const c = await srv.push(q, { data: 'c', dependsOn: [b] });
    assert.deepEqual([await state(b), await state(c)], ['waiting-children', 'waiting-children']);
    await runJob(q, a);
    assert.deepEqual([await state(b), await state(c)], ['waiting', 'waiting-children']);
    await runJob(q, b);
    assert.equal(await state(c), 'waiting');
    await runJob(q, c);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('a dependency that completed and was removed (removeOnComplete) releases the job', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', removeOnComplete: true });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    await runJob(q, dep);
    assert.equal(await state(dep), null);
    assert.equal(await state(child), 'waiting');
  });

  it('a dependency with a delay releases the job only once it ran and completed', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', delay: 200 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    const p = await srv.pull(q, 2000);
    assert.equal(p.job?.id, dep, 'the delayed dependency comes first, the child is not pullable');
    assert.equal(await state(child), 'waiting-children');
    assertAnswer(await srv.ack(dep, { token: p.token }), 200, { ok: true });
    await runJob(q, child);
  });
});

describe('dependsOn: failure', () => {
  it('a dependency dead-lettered by fail: the job fails with "dependency failed: <id>"; its uniqueKey is released', async () => {
    const q = qname('dep');
    const key = `k-${qname('d')}`;
    const dep = await srv.push(q, { data: 'dep', maxAttempts: 1 });
    const other = await srv.push(q, { data: 'other', delay: 60_000 });
    const child = await srv.push(q, { data: 'child', dependsOn: [other, dep], uniqueKey: key });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, dep);
    assertAnswer(await srv.fail(dep, { token: p.token, error: 'fatal' }), 200, { ok: true });
    const v = await srv.getJob(child);
    assert.equal(v.state, 'failed');
    assert.equal(v.error, depFailed(dep));
    assert.equal((await srv.pull(q)).job, null, 'the failed job was handed out');
    const next = await srv.push(q, { data: 'again', uniqueKey: key });
    assert.notEqual(next, child, 'uniqueKey held by a job failed through its dependency');
    await srv.cancel(other);
    await srv.cancel(next);
  });

  it('removeOnFail: a job failed through its dependency is removed', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', maxAttempts: 1 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep], removeOnFail: true });
    const p = await srv.pull(q);
    assertAnswer(await srv.fail(dep, { token: p.token }), 200, { ok: true });
    assert.equal(await state(child), null);
  });

  it('transitive failure: A dead-lettered fails B (dependency failed: A) and C (dependency failed: B)', async () => {
    const q1 = qname('dep');
    const q2 = qname('dep');
    const a = await srv.push(q1, { data: 'a', maxAttempts: 1 });
    const d = await srv.push(q2, { data: 'd' });
    const b = await srv.push(q2, { data: 'b', dependsOn: [a] });
    const c = await srv.push(q2, { data: 'c', dependsOn: [d, b] });
    const e = await srv.push(q2, { data: 'e', dependsOn: [c] });
    const p = await srv.pull(q1);
    assertAnswer(await srv.fail(a, { token: p.token }), 200, { ok: true });
    const [vb, vc, ve] = [await srv.getJob(b), await srv.getJob(c), await srv.getJob(e)];
    assert.deepEqual([vb.state, vb.error], ['failed', depFailed(a)]);
    assert.deepEqual([vc.state, vc.error], ['failed', depFailed(b)]);
    assert.deepEqual([ve.state, ve.error], ['failed', depFailed(c)]);
    // The unrelated dependency is untouched and is the only pullable job.
    assert.equal(await state(d), 'waiting');
    await runJob(q2, d);
    assert.equal((await srv.pull(q2)).job, null);
  });

  it('a dependency dead-lettered by its timeout fails the job by timer', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', timeout: 100, maxAttempts: 1 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, dep);
    const o = await observeState(srv, child, 'failed', 3000);
    assert.equal(o.view.error, depFailed(dep));
    assert.equal(await state(dep), 'failed');
  });

  it('a dependency expired by its ttl fails the job by timer; transitively', async () => {
    const q = qname('dep');
    const dep = await srv.push(q, { data: 'dep', ttl: 120 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    const grandchild = await srv.push(q, { data: 'gc', dependsOn: [child] });
    const o = await observe(srv, grandchild, (v) => v?.state === 'failed', 'grandchild fails', 3000);
    assert.equal(o.view.error, depFailed(child));
    const vc = await srv.getJob(child);
    assert.deepEqual([vc.state, vc.error], ['failed', depFailed(dep)]);
    const vd = await srv.getJob(dep);
    assert.deepEqual([vd.state, vd.error], ['failed', 'ttl expired']);
  });
});

describe('cancel: releases keys and fails dependents, in any state', () => {
  const cases: Array<[string, (q: string, key: string) => Promise<{ id: string; token?: string }>]> = [
    ['waiting', async (q, key) => ({ id: await srv.push(q, { data: 'w', uniqueKey: key }) })],
    ['delayed', async (q, key) => ({ id: await srv.push(q, { data: 'd', uniqueKey: key, delay: 60_000 }) })],
    [
      'active',
      async (q, key) => {
        const id = await srv.push(q, { data: 'a', uniqueKey: key });
        const p = await srv.pull(q);
        assert.equal(p.job?.id, id);
        return { id, token: p.token as string };
      },
    ],
    [
      'delayed (retry backoff)',
      async (q, key) => {
        const id = await srv.push(q, { data: 'r', uniqueKey: key, backoff: 60_000 });
        const p = await srv.pull(q);
        assertAnswer(await srv.fail(id, { token: p.token }), 200, { ok: true });
        return { id };
      },
    ],
    [
      'waiting-children',
      async (q, key) => {
        const parent = await srv.push(qname('dep-parent'), { data: 'p', delay: 60_000 });
        return { id: await srv.push(q, { data: 'wc', uniqueKey: key, dependsOn: [parent] }) };
      },
    ],
  ];

  for (const [label, make] of cases) {
    it(`cancel of a ${label} job`, async () => {
      const q = qname('dep-cancel');
      const key = `k-${qname('c')}`;
      const { id, token } = await make(q, key);
      const expected = label.startsWith('delayed') ? 'delayed' : label;
      assert.equal(await state(id), expected);
      assert.equal(await srv.push(q, { data: 'dup', uniqueKey: key }), id, 'key held before the cancel');
      const child = await srv.push(qname('dep-child'), { data: 'child', dependsOn: [id] });
      const grandchild = await srv.push(qname('dep-child'), { data: 'gc', dependsOn: [child] });
      assertAnswer(await srv.cancel(id), 200, { ok: true });
      assert.equal(await state(id), null);
      const vc = await srv.getJob(child);
      assert.deepEqual([vc.state, vc.error], ['failed', depFailed(id)]);
      const vg = await srv.getJob(grandchild);
      assert.deepEqual([vg.state, vg.error], ['failed', depFailed(child)]);
      const next = await srv.push(q, { data: 'after', uniqueKey: key });
      assert.notEqual(next, id, 'uniqueKey still held after the cancel');
      if (token) assertAnswer(await srv.ack(id, { token }), 400, NOT_ACTIVE);
      await srv.cancel(next);
    });
  }
});
