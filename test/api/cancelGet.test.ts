// GET /jobs/:id and DELETE /jobs/:id — lookups, 404s, cancel in every state,
// what a worker gets after its job was cancelled.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

const JOB_NOT_FOUND = { ok: false, error: 'Job not found' };
const NOT_ACTIVE = { ok: false, error: 'Job not found or not active' };

async function assertGone(id: string) {
  const r = await srv.getRaw(id);
  assert.equal(r.status, 404, r.describe);
  assert.deepEqual(r.json, JOB_NOT_FOUND);
}

describe('get', () => {
  it('an unknown id is 404 Job not found', async () => {
    for (const id of ['does-not-exist', '01924f5a-7b3c-7def-8a12-3456789abcde']) {
      const r = await srv.getRaw(id);
      assert.equal(r.status, 404, r.describe);
      assert.deepEqual(r.json, JOB_NOT_FOUND);
      assert.match(r.headers['content-type'] ?? '', /application\/json/);
    }
  });

  it('follows the job through waiting → active → completed', async () => {
    const q = qname('get');
    const id = await srv.push(q, { data: 'x' });
    assert.equal((await srv.getJob(id)).state, 'waiting');
    const p = await srv.pull(q);
    assert.equal((await srv.getJob(id)).state, 'active');
    await srv.ack(id, { token: p.token });
    assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('reading a job changes nothing', async () => {
    const q = qname('get');
    const id = await srv.push(q, { data: 'x' });
    const a = await srv.getJob(id);
    const b = await srv.getJob(id);
    assert.deepEqual(a, b);
    assert.equal((await srv.pull(q)).job?.id, id);
  });
});

describe('cancel', () => {
  it('a waiting job: {ok:true}, then GET 404 and it is never pulled', async () => {
    const q = qname('cancel');
    const id = await srv.push(q, { data: 1 });
    const r = await srv.cancel(id);
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true });
    await assertGone(id);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('a delayed job', async () => {
    const q = qname('cancel');
    const id = await srv.push(q, { data: 1, delay: 100 });
    assert.equal((await srv.cancel(id)).status, 200);
    await assertGone(id);
    assert.equal((await srv.pull(q, 300)).job, null, 'a cancelled delayed job came due anyway');
  });

  it('a retry waiting for its backoff', async () => {
    const q = qname('cancel');
    const id = await srv.push(q, { data: 1, backoff: 100 });
    const p = await srv.pull(q);
    await srv.fail(id, { token: p.token, error: 'x' });
    assert.equal((await srv.getJob(id)).state, 'delayed');
    assert.equal((await srv.cancel(id)).status, 200);
    await assertGone(id);
    assert.equal((await srv.pull(q, 300)).job, null, 'a cancelled retry came due anyway');
  });

  it('an active job: the worker\'s ack and fail then get 400', async () => {
    const q = qname('cancel');
    const id = await srv.push(q, { data: 1 });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    const r = await srv.cancel(id);
    assert.equal(r.status, 200, r.describe);
    await assertGone(id);
    for (const res of [await srv.ack(id, { token: p.token, result: 1 }), await srv.fail(id, { token: p.token }), await srv.ack(id)]) {
      assert.equal(res.status, 400, res.describe);
      assert.deepEqual(res.json, NOT_ACTIVE);
    }
    await assertGone(id);
  });

  it('a completed job and a job in the DLQ', async () => {
    const q = qname('cancel');
    const done = await srv.push(q, { data: 'done' });
    let p = await srv.pull(q);
    await srv.ack(done, { token: p.token });
    const dead = await srv.push(q, { data: 'dead', maxAttempts: 1 });
    p = await srv.pull(q);
    await srv.fail(dead, { token: p.token, error: 'x' });
    assert.equal((await srv.getJob(done)).state, 'completed');
    assert.equal((await srv.getJob(dead)).state, 'failed');
    for (const id of [done, dead]) {
      const r = await srv.cancel(id);
      assert.equal(r.status, 200, r.describe);
      await assertGone(id);
    }
  });

  it('a job waiting for its dependencies', async () => {
    const q = qname('cancel');
    const parent = await srv.push(q, { data: 'p', delay: 60_000 });
    const child = await srv.push(q, { data: 'c', dependsOn: [parent] });
    assert.equal((await srv.cancel(child)).status, 200);
    await assertGone(child);
    await srv.cancel(parent);
  });

  it('an unknown id is 404 Job not found; so is a second cancel', async () => {
    let r = await srv.cancel('no-such-job');
    assert.equal(r.status, 404, r.describe);
    assert.deepEqual(r.json, JOB_NOT_FOUND);
    const q = qname('cancel');
    const id = await srv.push(q, { data: 1 });
    assert.equal((await srv.cancel(id)).status, 200);
    r = await srv.cancel(id);
    assert.equal(r.status, 404, r.describe);
    assert.deepEqual(r.json, JOB_NOT_FOUND);
  });

  it('cancelling one job leaves the others of the queue alone', async () => {
    const q = qname('cancel');
    const a = await srv.push(q, { data: 'a' });
    const b = await srv.push(q, { data: 'b' });
    const c = await srv.push(q, { data: 'c' });
    await srv.cancel(b);
    assert.equal((await srv.pull(q)).job?.id, a);
    assert.equal((await srv.pull(q)).job?.id, c);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('works with ids that need URL encoding', async () => {
    const q = qname('cancel');
    const id = `tenant/7 job?${qname('x')}#1`;
    assert.equal(await srv.push(q, { data: 1, jobId: id }), id);
    assert.equal((await srv.getJob(id)).id, id);
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    assert.equal((await srv.ack(id, { token: p.token, result: 'ok' })).status, 200);
    assert.equal((await srv.getJob(id)).state, 'completed');
    assert.equal((await srv.cancel(id)).status, 200);
    await assertGone(id);
  });
});
