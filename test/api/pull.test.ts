// Pull: GET /queues/:queue/jobs — answer shape, activation, lease token, the
// `timeout` query parameter's validation.
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

describe('pull', () => {
  it('an empty queue answers {ok:true, job:null, token:null}', async () => {
    const q = qname('pull');
    const r = await srv.request('GET', `/queues/${q}/jobs`);
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true, job: null, token: null });
    assert.match(r.headers['content-type'] ?? '', /application\/json/);
  });

  it('a queue that never existed and ?timeout=0 both answer null at once', async () => {
    const q = qname('pull');
    const t0 = Date.now();
    const r = await srv.pull(q, 0);
    assert.equal(r.job, null);
    assert.equal(r.token, null);
    assert.ok(Date.now() - t0 < 1000, 'timeout=0 must not wait');
  });

  it('returns the job view and a token; the job becomes active with startedAt set and attempts unchanged', async () => {
    const q = qname('pull');
    const id = await srv.push(q, { data: { to: 'user@test.com' }, priority: 10 });
    const before = await srv.getJob(id);
    const t0 = Date.now();
    const p = await srv.pull(q);
    const t1 = Date.now();
    assert.deepEqual(Object.keys(p.res.json).sort(), ['job', 'ok', 'token'], p.res.describe);
    assert.equal(typeof p.token, 'string');
    assert.ok((p.token as string).length > 0);
    const job = p.job;
    assert.equal(job.id, id);
    assert.equal(job.queue, q);
    assert.deepEqual(job.data, { to: 'user@test.com' });
    assert.equal(job.priority, 10);
    assert.equal(job.createdAt, before.createdAt);
    assert.equal(job.attempts, 0);
    assert.equal(job.maxAttempts, 3);
    assert.equal(job.progress, 0);
    assert.equal(job.state, 'active');
    assert.equal(typeof job.startedAt, 'number');
    assert.ok(job.startedAt >= t0 - 5 && job.startedAt <= t1 + 5, `startedAt ${job.startedAt} not in [${t0}, ${t1}]`);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'active');
    assert.equal(got.startedAt, job.startedAt);
    assert.equal(got.attempts, 0);
    assert.equal(got.completedAt, null);
  });

  it('the pulled view carries the same fields as GET /jobs/:id', async () => {
    const q = qname('pull');
    const id = await srv.push(q, { data: 1, tags: ['t'] });
    const p = await srv.pull(q);
    const got = await srv.getJob(id);
    assert.deepEqual(Object.keys(p.job).sort(), Object.keys(got).sort());
    assert.deepEqual(p.job, got);
  });

  it('an active job is not handed out again', async () => {
    const q = qname('pull');
    await srv.push(q, { data: 1 });
    const p = await srv.pull(q);
    assert.ok(p.job);
    const again = await srv.pull(q);
    assert.equal(again.job, null, again.res.describe);
  });

  it('every pull gets its own token', async () => {
    const q = qname('pull');
    for (let i = 0; i < 5; i++) await srv.push(q, { data: i });
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const p = await srv.pull(q);
      tokens.add(p.token as string);
    }
    assert.equal(tokens.size, 5);
  });

  it('pulls only from the named queue', async () => {
    const q1 = qname('pull');
    const q2 = qname('pull');
    const id = await srv.push(q1, { data: 1 });
    assert.equal((await srv.pull(q2)).job, null);
    assert.equal((await srv.pull(q1)).job?.id, id);
  });

  it('concurrent pulls never hand out the same job twice', async () => {
    const q = qname('pull');
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) ids.add(await srv.push(q, { data: i }));
    const results = await Promise.all(Array.from({ length: 40 }, () => srv.pull(q)));
    const got = results.map((r) => r.job?.id).filter((x): x is string => typeof x === 'string');
    assert.equal(got.length, 30);
    assert.equal(new Set(got).size, 30, 'a job was handed out twice');
    for (const id of got) assert.ok(ids.has(id));
  });

  it('rejects a non-integer or negative timeout with 400', async () => {
    const q = qname('pull');
    for (const t of ['abc', '1.5', '-1', '-100', '1e', 'NaN', 'Infinity']) {
      const r = await srv.request('GET', `/queues/${q}/jobs?timeout=${encodeURIComponent(t)}`);
      assert.equal(r.status, 400, r.describe);
      assert.equal(r.json?.ok, false, r.describe);
      assert.equal(typeof r.json?.error, 'string', r.describe);
      assert.match(r.json.error, /timeout/i, r.describe);
    }
  });

  it('rejects an invalid queue name with a 400 naming the queue', async () => {
    for (const q of ['bad name', 'q'.repeat(257), 'semi;colon']) {
      const r = await srv.request('GET', `/queues/${encodeURIComponent(q)}/jobs`);
      assert.equal(r.status, 400, r.describe);
      assert.match(String(r.json?.error), /queue/i, r.describe);
    }
  });
});
