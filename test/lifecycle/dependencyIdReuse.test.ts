// A dependency that completed counts as completed for its dependents whatever later happens
// to its id (defect 4 of issue 9). With COMPLETED_MAX=0 a completed job is evicted at once
// and its jobId may be pushed again; a job that named the old one must not wait for, nor
// fail with, the new one. A job that names the new one waits for the new one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertAnswer } from '../support/lifecycle.ts';
import { cleanupAll, qname, startServer, waitFor, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer({ env: { COMPLETED_MAX: '0' } });
});
after(async () => {
  await cleanupAll();
});

async function runJob(queue: string, id: string): Promise<void> {
  const p = await srv.pull(queue);
  assert.equal(p.job?.id, id, p.res.describe);
  assertAnswer(await srv.ack(id, { token: p.token }), 200, { ok: true });
}

async function evicted(id: string): Promise<void> {
  await waitFor(async () => (await srv.getRaw(id)).status === 404, 5000);
}

/**
 * B waits on A and C; A runs and leaves the state (evicted, or at once with removeOnComplete).
 * The queues and ids of the three, for a test to push a new job under A's id.
 */
async function oldAGone(oldA: Record<string, unknown> = {}) {
  const qa = qname('reuse-a');
  const qc = qname('reuse-c');
  const qb = qname('reuse-b');
  const a = `${qname('A')}`;
  await srv.push(qa, { data: 'old A', jobId: a, ...oldA });
  const c = await srv.push(qc, { data: 'C' });
  const b = await srv.push(qb, { data: 'B', dependsOn: [a, c] });
  await runJob(qa, a);
  // removeOnComplete takes it out with the ack; otherwise retention (COMPLETED_MAX=0) evicts it.
  if (oldA.removeOnComplete) assert.equal((await srv.getRaw(a)).status, 404);
  else await evicted(a);
  return { qa, qb, qc, a, b, c };
}

describe('dependsOn across jobId reuse', () => {
  it('B waits on A and C; A completes and is evicted; a new job takes id A; C completes → B is pullable', async () => {
    const { qa, qb, qc, a, b, c } = await oldAGone();
    await srv.push(qa, { data: 'new A', jobId: a });
    assert.equal((await srv.getJob(b)).state, 'waiting-children');
    await runJob(qc, c);
    assert.equal((await srv.getJob(b)).state, 'waiting');
    await runJob(qb, b);
  });

  it('the new A failing does not fail B, and B still becomes pullable when C completes', async () => {
    const { qa, qc, a, b, c } = await oldAGone({ removeOnComplete: true });
    await srv.push(qa, { data: 'new A', jobId: a, maxAttempts: 1 });
    const p = await srv.pull(qa);
    assertAnswer(await srv.fail(a, { token: p.token, error: 'boom' }), 200, { ok: true });
    assert.equal((await srv.getJob(b)).state, 'waiting-children');
    await runJob(qc, c);
    assert.equal((await srv.getJob(b)).state, 'waiting');
  });

  it('after a restart the line between the old and the new A holds', async () => {
    const { qa, qb, qc, a, b, c } = await oldAGone();
    await srv.push(qa, { data: 'new A', jobId: a, delay: 60_000 });
    const d = await srv.push(qb, { data: 'D waits for the new A', dependsOn: [a] });
    assert.equal(await srv.stop(), 0);
    srv = await srv.restart();
    await runJob(qc, c);
    assert.equal((await srv.getJob(b)).state, 'waiting');
    assert.equal((await srv.getJob(d)).state, 'waiting-children', 'D named the new A, which has not run');
    assertAnswer(await srv.cancel(a), 200, { ok: true });
    assert.equal((await srv.getJob(d)).error, `dependency failed: ${a}`);
    assert.equal((await srv.getJob(b)).state, 'waiting', 'B never depended on the new A');
  });
});
