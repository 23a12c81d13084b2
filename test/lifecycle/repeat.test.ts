// repeat {every, limit?}: when an occurrence ends (completed or DLQ) the next
// one is pushed as a new job (new id, same queue/data/options, delayed), due
// at the first slot scheduledAt + k × every still in the future, where
// scheduledAt is when the ending occurrence was first due. No overlap (the
// next one exists only once the current one ended), no catch-up burst, `limit`
// counts every occurrence, cancelling an occurrence ends the chain.
// There is no list endpoint: occurrences are found by pulling the queue.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';
import { assertAnswer, assertNothingFor, assertOnTime, observeState, pullWithin } from '../support/lifecycle.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

/**
 * Asserts that `next` is the occurrence following one first due at `scheduledAt`
 * that ended at `endedAt`: runAt = scheduledAt + k × every, the first such slot after endedAt.
 */
function assertNextSlot(next: any, scheduledAt: number, endedAt: number, every: number, what: string): void {
  const offset = next.runAt - scheduledAt;
  assert.ok(offset > 0 && offset % every === 0, `${what}: runAt ${next.runAt} is not scheduledAt ${scheduledAt} + k × ${every} (offset ${offset})`);
  assert.ok(next.runAt > endedAt, `${what}: runAt ${next.runAt} is not after the end of the previous occurrence (${endedAt})`);
  assert.ok(next.runAt - every <= endedAt, `${what}: runAt ${next.runAt} skips a free slot (previous ended at ${endedAt})`);
}

/** The options an occurrence must share with the first one. */
function sameOptions(next: any, first: any, what: string): void {
  for (const k of ['queue', 'data', 'priority', 'maxAttempts', 'backoff', 'tags', 'lifo', 'removeOnComplete', 'removeOnFail', 'groupId', 'ttl', 'timeout', 'repeat', 'durable']) {
    assert.deepEqual(next[k], first[k], `${what}: .${k} differs from the first occurrence`);
  }
}

describe('repeat', () => {
  it('each ack pushes the next occurrence: new id, same options, due at the next slot, on time; limit 3 stops the chain', async () => {
    const q = qname('rep');
    const every = 250;
    const body = { data: { report: 'daily' }, priority: 3, tags: ['r'], maxAttempts: 2, backoff: 0, groupId: 'g', repeat: { every, limit: 3 } };
    const firstId = await srv.push(q, body);
    const created = await srv.getJob(firstId);
    assert.deepEqual(created.repeat, { every, limit: 3 });
    const p1 = await srv.pull(q);
    assert.equal(p1.job?.id, firstId);
    const scheduled1 = p1.job.runAt;
    assertAnswer(await srv.ack(firstId, { token: p1.token, result: 1 }), 200, { ok: true });
    const end1 = (await srv.getJob(firstId)).completedAt;
    assert.equal((await srv.getJob(firstId)).state, 'completed');
    const nextSlot = scheduled1 + (Math.floor((end1 - scheduled1) / every) + 1) * every;
    const early = await srv.pull(q);
    if (Date.now() < nextSlot) assert.equal(early.job, null, 'the next occurrence must be delayed until its slot');

    const p2 = early.job ? { job: early.job, token: early.token as string } : await pullWithin(srv, q, 2000, 'second occurrence');
    const second = p2.job;
    assert.notEqual(second.id, firstId, 'an occurrence must have its own id');
    sameOptions(second, created, 'second occurrence');
    assertNextSlot(second, scheduled1, end1, every, 'second occurrence');
    assertOnTime(second, 'second occurrence');
    assert.equal(second.attempts, 0);
    assert.ok(second.createdAt >= end1, 'created when the first ended, not before');
    assertAnswer(await srv.ack(second.id, { token: p2.token }), 200, { ok: true });
    const end2 = (await srv.getJob(second.id)).completedAt;

    const p3 = await pullWithin(srv, q, 2000, 'third occurrence');
    const third = p3.job;
    assert.ok(![firstId, second.id].includes(third.id));
    sameOptions(third, created, 'third occurrence');
    assertNextSlot(third, second.runAt, end2, every, 'third occurrence');
    assertOnTime(third, 'third occurrence');
    assertAnswer(await srv.ack(third.id, { token: p3.token }), 200, { ok: true });

    await assertNothingFor(srv, q, every + 300, 'limit 3 reached, yet a fourth occurrence came');
    for (const id of [firstId, second.id, third.id]) assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('the next occurrence exists as a delayed job from the end of the previous one (found through its uniqueKey)', async () => {
    const q = qname('rep');
    const every = 400;
    const key = `k-${qname('r')}`;
    const firstId = await srv.push(q, { data: 'keyed', uniqueKey: key, repeat: { every, limit: 2 } });
    const p1 = await srv.pull(q);
    assert.equal(p1.job?.id, firstId);
    assertAnswer(await srv.ack(firstId, { token: p1.token }), 200, { ok: true });
    const end1 = (await srv.getJob(firstId)).completedAt;
    // The key was released by the first occurrence and is held by the next one (same options).
    const nextId = await srv.push(q, { data: 'probe', uniqueKey: key });
    assert.notEqual(nextId, firstId);
    const next = await srv.getJob(nextId);
    const slot = p1.job.runAt + (Math.floor((end1 - p1.job.runAt) / every) + 1) * every;
    if (Date.now() < slot) assert.equal(next.state, 'delayed', `next occurrence ${JSON.stringify(next)}`);
    assert.equal(next.data, 'keyed', 'the probe push created a job instead of finding the next occurrence');
    assert.equal(next.uniqueKey, key);
    assert.ok(next.createdAt >= end1, 'created when the previous occurrence ended');
    assertNextSlot(next, p1.job.runAt, end1, every, 'next occurrence');
    const p2 = await pullWithin(srv, q, 2000, 'next occurrence');
    assert.equal(p2.job.id, nextId);
    assertOnTime(p2.job, 'next occurrence');
    assertAnswer(await srv.ack(nextId, { token: p2.token }), 200, { ok: true });
    // limit 2 reached: the key is free and nothing else comes.
    const free = await srv.push(q, { data: 'after', uniqueKey: key, delay: 60_000 });
    assert.ok(![firstId, nextId].includes(free), 'the key is still held after the last occurrence');
    await srv.cancel(free);
  });

  it('limit 1: a single occurrence', async () => {
    const q = qname('rep');
    const id = await srv.push(q, { data: 1, repeat: { every: 100, limit: 1 } });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    assertAnswer(await srv.ack(id, { token: p.token }), 200, { ok: true });
    await assertNothingFor(srv, q, 400, 'a second occurrence despite limit 1');
  });

  it('no overlap, no catch-up burst: a long-running occurrence delays the next to the first future slot, and only one comes', async () => {
    const q = qname('rep');
    const every = 100;
    const id = await srv.push(q, { data: 'slow', repeat: { every } });
    const p1 = await srv.pull(q);
    assert.equal(p1.job?.id, id);
    // Hold it for several slots: nothing else of the chain may appear meanwhile.
    await assertNothingFor(srv, q, 450, 'an occurrence overlapped the running one');
    assertAnswer(await srv.ack(id, { token: p1.token }), 200, { ok: true });
    const end1 = (await srv.getJob(id)).completedAt;
    const p2 = await pullWithin(srv, q, 1000, 'second occurrence');
    assertNextSlot(p2.job, p1.job.runAt, end1, every, 'after a long occurrence');
    assertOnTime(p2.job, 'second occurrence');
    // No burst of the missed slots.
    assert.equal((await srv.pull(q)).job, null, 'missed slots were caught up');
    await assertNothingFor(srv, q, 2 * every + 50, 'a second occurrence while one is active');
    // Cancelling the active occurrence ends the chain.
    assertAnswer(await srv.cancel(p2.job.id), 200, { ok: true });
    await assertNothingFor(srv, q, 2 * every + 150, 'the chain went on after a cancel');
  });

  it('a retry inside an occurrence is not a new occurrence; the next slot counts from when the occurrence was first due', async () => {
    const q = qname('rep');
    const every = 300;
    const id = await srv.push(q, { data: 'r', repeat: { every }, maxAttempts: 3, backoff: { type: 'fixed', delay: 120 } });
    const p1 = await srv.pull(q);
    const scheduled = p1.job.runAt;
    assertAnswer(await srv.fail(id, { token: p1.token, error: 'e' }), 200, { ok: true });
    const retry = await pullWithin(srv, q, 1000, 'retry');
    assert.equal(retry.job.id, id, 'a failure with attempts left must retry the same job, not start the next occurrence');
    assert.equal(retry.job.attempts, 1);
    assertAnswer(await srv.ack(id, { token: retry.token }), 200, { ok: true });
    const end = (await srv.getJob(id)).completedAt;
    const next = await pullWithin(srv, q, 2000, 'next occurrence');
    assert.notEqual(next.job.id, id);
    assertNextSlot(next.job, scheduled, end, every, 'after a retried occurrence');
    assert.equal(next.job.attempts, 0);
    assert.equal(next.job.error, null);
    assertAnswer(await srv.cancel(next.job.id), 200, { ok: true });
  });

  it('an occurrence that lands in the DLQ (fail) still schedules the next', async () => {
    const q = qname('rep');
    const every = 200;
    const id = await srv.push(q, { data: 'd', repeat: { every, limit: 2 }, maxAttempts: 1 });
    const p1 = await srv.pull(q);
    assertAnswer(await srv.fail(id, { token: p1.token, error: 'boom' }), 200, { ok: true });
    const dead = await srv.getJob(id);
    assert.equal(dead.state, 'failed');
    const next = await pullWithin(srv, q, 2000, 'occurrence after a DLQ');
    assert.notEqual(next.job.id, id);
    assert.equal(next.job.attempts, 0);
    assertOnTime(next.job, 'occurrence after a DLQ');
    assert.equal((next.job.runAt - p1.job.runAt) % every, 0);
    assertAnswer(await srv.ack(next.job.id, { token: next.token }), 200, { ok: true });
    await assertNothingFor(srv, q, every + 200, 'limit 2 counts the dead-lettered occurrence');
  });

  it('an occurrence ended by a timer (timeout → DLQ) schedules the next without any request', async () => {
    const q = qname('rep');
    const every = 300;
    const id = await srv.push(q, { data: 't', repeat: { every, limit: 2 }, timeout: 100, maxAttempts: 1 });
    const p1 = await srv.pull(q);
    assert.equal(p1.job?.id, id);
    const next = await pullWithin(srv, q, 2000, 'occurrence after a timeout');
    assert.notEqual(next.job.id, id);
    const first = await srv.getJob(id);
    assert.equal(first.state, 'failed');
    assert.equal(first.error, 'timeout exceeded');
    assertOnTime(next.job, 'occurrence after a timeout');
    assert.equal((next.job.runAt - p1.job.runAt) % every, 0);
    assert.equal(next.job.timeout, 100);
    assertAnswer(await srv.ack(next.job.id, { token: next.token }), 200, { ok: true });
  });

  it('cancelling a waiting occurrence ends the chain', async () => {
    const q = qname('rep');
    const id = await srv.push(q, { data: 'c', repeat: { every: 100 } });
    assertAnswer(await srv.cancel(id), 200, { ok: true });
    await assertNothingFor(srv, q, 350, 'an occurrence after the chain was cancelled');
  });

  it('a first occurrence with a delay: scheduledAt is createdAt + delay', async () => {
    const q = qname('rep');
    const every = 200;
    const id = await srv.push(q, { data: 'dl', delay: 150, repeat: { every, limit: 2 } });
    const first = await pullWithin(srv, q, 1000, 'first occurrence');
    assert.equal(first.job.id, id);
    assert.equal(first.job.runAt, first.job.createdAt + 150);
    assertOnTime(first.job, 'delayed first occurrence');
    assertAnswer(await srv.ack(id, { token: first.token }), 200, { ok: true });
    const end = (await srv.getJob(id)).completedAt;
    const next = await pullWithin(srv, q, 1000, 'second occurrence');
    assertNextSlot(next.job, first.job.runAt, end, every, 'after a delayed first occurrence');
    assertOnTime(next.job, 'second occurrence');
    assertAnswer(await srv.ack(next.job.id, { token: next.token }), 200, { ok: true });
  });

  it('removeOnComplete occurrences still chain', async () => {
    const q = qname('rep');
    const id = await srv.push(q, { data: 'rm', removeOnComplete: true, repeat: { every: 150, limit: 2 } });
    const p1 = await srv.pull(q);
    assertAnswer(await srv.ack(id, { token: p1.token }), 200, { ok: true });
    await observeState(srv, id, null, 1000);
    const next = await pullWithin(srv, q, 1000, 'second occurrence');
    assert.notEqual(next.job.id, id);
    assert.equal(next.job.removeOnComplete, true);
    assertAnswer(await srv.ack(next.job.id, { token: next.token }), 200, { ok: true });
    await sleep(20);
    await assertNothingFor(srv, q, 300, 'limit 2 passed');
  });
});
