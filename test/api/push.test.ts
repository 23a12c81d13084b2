// Push: POST /queues/:queue/jobs — ids, job view defaults, options echoed, delay,
// jobId and uniqueKey idempotency, queue-name rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, UUID_V7, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

const VIEW_FIELDS = [
  'id', 'queue', 'data', 'priority', 'createdAt', 'runAt', 'startedAt', 'completedAt', 'attempts', 'maxAttempts',
  'backoff', 'progress', 'tags', 'lifo', 'removeOnComplete', 'removeOnFail', 'state', 'result', 'error', 'groupId',
  'uniqueKey', 'dependsOn', 'ttl', 'timeout', 'repeat', 'durable',
];

describe('push: answer and job view', () => {
  it('answers 200 {ok:true,id} with a UUIDv7 id, distinct per push', async () => {
    const q = qname('push');
    const r1 = await srv.pushRaw(q, { data: { to: 'a@test.com' } });
    assert.equal(r1.status, 200, r1.describe);
    assert.deepEqual(Object.keys(r1.json).sort(), ['id', 'ok'], r1.describe);
    assert.equal(r1.json.ok, true);
    assert.match(r1.json.id, UUID_V7);
    assert.match(r1.headers['content-type'] ?? '', /application\/json/);
    const r2 = await srv.pushRaw(q, { data: { to: 'b@test.com' } });
    assert.equal(r2.status, 200, r2.describe);
    assert.match(r2.json.id, UUID_V7);
    assert.notEqual(r2.json.id, r1.json.id);
  });

  it('GET /jobs/:id returns every view field with the contract defaults', async () => {
    const q = qname('push');
    const t0 = Date.now();
    const id = await srv.push(q, { data: { to: 'user@test.com', n: 1 } });
    const t1 = Date.now();
    const r = await srv.getRaw(id);
    assert.equal(r.status, 200, r.describe);
    assert.equal(r.json.ok, true);
    const job = r.json.job;
    for (const f of VIEW_FIELDS) assert.ok(f in job, `view lacks field ${f}: ${r.text}`);
    assert.equal(job.id, id);
    assert.equal(job.queue, q);
    assert.deepEqual(job.data, { to: 'user@test.com', n: 1 });
    assert.equal(job.state, 'waiting');
    assert.equal(job.priority, 0);
    assert.equal(typeof job.createdAt, 'number');
    assert.ok(job.createdAt >= t0 - 5 && job.createdAt <= t1 + 5, `createdAt ${job.createdAt} not in [${t0}, ${t1}]`);
    assert.equal(job.runAt, job.createdAt);
    assert.equal(job.startedAt, null);
    assert.equal(job.completedAt, null);
    assert.equal(job.attempts, 0);
    assert.equal(job.maxAttempts, 3);
    assert.equal(job.backoff, 1000);
    assert.equal(job.progress, 0);
    assert.deepEqual(job.tags, []);
    assert.equal(job.lifo, false);
    assert.equal(job.removeOnComplete, false);
    assert.equal(job.removeOnFail, false);
    assert.equal(job.result, null);
    assert.equal(job.error, null);
    assert.equal(job.groupId, null);
    assert.equal(job.uniqueKey, null);
    assert.deepEqual(job.dependsOn, []);
    assert.equal(job.ttl, null);
    assert.equal(job.timeout, null);
    assert.equal(job.repeat, null);
    assert.equal(job.durable, false);
  });

  it('stores and returns every option it was given', async () => {
    const q = qname('push');
    const dep = await srv.push(q, { data: 'dep' });
    const jobId = `custom-${qname('id')}`;
    const body = {
      data: { to: 'user@test.com', subject: 'Welcome' },
      priority: 10,
      delay: 5000,
      maxAttempts: 5,
      backoff: 2000,
      ttl: 86_400_000,
      timeout: 30_000,
      uniqueKey: 'email-user-123',
      jobId,
      tags: ['email', 'onboarding'],
      groupId: 'batch-1',
      lifo: true,
      removeOnComplete: true,
      removeOnFail: true,
      durable: true,
      dependsOn: [dep],
    };
    const r = await srv.pushRaw(q, body);
    assert.equal(r.status, 200, r.describe);
    assert.equal(r.json.id, jobId);
    const job = await srv.getJob(jobId);
    assert.equal(job.id, jobId);
    assert.equal(job.queue, q);
    assert.deepEqual(job.data, body.data);
    assert.equal(job.priority, 10);
    assert.equal(job.runAt, job.createdAt + 5000);
    assert.equal(job.maxAttempts, 5);
    assert.equal(job.backoff, 2000);
    assert.equal(job.ttl, 86_400_000);
    assert.equal(job.timeout, 30_000);
    assert.equal(job.uniqueKey, 'email-user-123');
    assert.deepEqual(job.tags, ['email', 'onboarding']);
    assert.equal(job.groupId, 'batch-1');
    assert.equal(job.lifo, true);
    assert.equal(job.removeOnComplete, true);
    assert.equal(job.removeOnFail, true);
    assert.equal(job.durable, true);
    assert.deepEqual(job.dependsOn, [dep]);
    assert.equal(job.attempts, 0);
  });

  it('returns the backoff object and the repeat object as given', async () => {
    const q = qname('push');
    const id = await srv.push(q, { data: 1, backoff: { type: 'fixed', delay: 250 }, delay: 60_000, repeat: { every: 60_000, limit: 2 } });
    const job = await srv.getJob(id);
    assert.equal(job.backoff?.type, 'fixed', JSON.stringify(job.backoff));
    assert.equal(job.backoff?.delay, 250, JSON.stringify(job.backoff));
    assert.equal(job.repeat?.every, 60_000, JSON.stringify(job.repeat));
    assert.equal(job.repeat?.limit, 2, JSON.stringify(job.repeat));
    await srv.cancel(id);
  });

  it('accepts any JSON value as data and returns it unchanged', async () => {
    const q = qname('push');
    const values: unknown[] = [
      'a string', 0, -12.5, false, true, [1, 'two', { three: 3 }], {},
      { nested: { deep: [null, { x: 'ünïcødé ✓ 🚀' }] }, empty: '', zero: 0 },
    ];
    for (const data of values) {
      const id = await srv.push(q, { data });
      const job = await srv.getJob(id);
      assert.deepEqual(job.data, data, `data ${JSON.stringify(data)} came back as ${JSON.stringify(job.data)}`);
    }
  });

  it('accepts negative and fractional priorities', async () => {
    const q = qname('push');
    for (const priority of [-5, 2.5, 1e6]) {
      const id = await srv.push(q, { data: priority, priority });
      assert.equal((await srv.getJob(id)).priority, priority);
    }
  });

  it('ignores unknown fields', async () => {
    const q = qname('push');
    const r = await srv.pushRaw(q, { data: { a: 1 }, somethingElse: 'x', nested: { y: 2 } });
    assert.equal(r.status, 200, r.describe);
    const job = await srv.getJob(r.json.id);
    assert.deepEqual(job.data, { a: 1 });
    assert.ok(!('somethingElse' in job), 'unknown field leaked into the view');
  });

  it('accepts Content-Type with a charset parameter', async () => {
    const q = qname('push');
    const r = await srv.pushRaw(q, JSON.stringify({ data: 'cs' }), { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(r.status, 200, r.describe);
  });
});

describe('push: delay', () => {
  it('a delayed job is not pullable before runAt and is waiting and pullable shortly after', async () => {
    const q = qname('delay');
    const id = await srv.push(q, { data: 'later', delay: 200 });
    const job = await srv.getJob(id);
    assert.equal(job.state, 'delayed');
    assert.equal(job.runAt, job.createdAt + 200);
    const early = await srv.pull(q);
    assert.equal(early.job, null, `pulled before due: ${early.res.describe}`);
    assert.equal(early.token, null);
    // Same machine, same clock: wait until runAt plus slack.
    await sleep(Math.max(0, job.runAt - Date.now()) + 50);
    const due = await srv.getJob(id);
    assert.equal(due.state, 'waiting', `state 50 ms after runAt: ${due.state}`);
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id, p.res.describe);
  });

  it('delay 0 means waiting at once', async () => {
    const q = qname('delay');
    const id = await srv.push(q, { data: 'now', delay: 0 });
    const job = await srv.getJob(id);
    assert.equal(job.state, 'waiting');
    assert.equal(job.runAt, job.createdAt);
  });
});

describe('push: durable', () => {
  it('durable:true gets the same answer and the job is stored', async () => {
    const q = qname('durable');
    const r = await srv.pushRaw(q, { data: { d: 1 }, durable: true });
    assert.equal(r.status, 200, r.describe);
    assert.match(r.json.id, UUID_V7);
    const job = await srv.getJob(r.json.id);
    assert.equal(job.durable, true);
    assert.equal(job.state, 'waiting');
  });
});

describe('push: jobId', () => {
  it('uses jobId as the id', async () => {
    const q = qname('jid');
    const jobId = `order-${qname('x')}`;
    const r = await srv.pushRaw(q, { data: 1, jobId });
    assert.equal(r.status, 200, r.describe);
    assert.equal(r.json.id, jobId);
    assert.equal((await srv.getJob(jobId)).id, jobId);
  });

  it('pushing an existing jobId (any queue) returns it and creates nothing', async () => {
    const q1 = qname('jid');
    const q2 = qname('jid');
    const jobId = `dup-${qname('x')}`;
    assert.equal(await srv.push(q1, { data: 'first', jobId }), jobId);
    const again = await srv.pushRaw(q1, { data: 'second', jobId });
    assert.equal(again.status, 200, again.describe);
    assert.equal(again.json.id, jobId);
    const other = await srv.pushRaw(q2, { data: 'third', jobId });
    assert.equal(other.status, 200, other.describe);
    assert.equal(other.json.id, jobId);
    const job = await srv.getJob(jobId);
    assert.equal(job.queue, q1);
    assert.equal(job.data, 'first');
    // Nothing was created: q1 holds exactly one job, q2 none.
    const p1 = await srv.pull(q1);
    assert.equal(p1.job?.id, jobId);
    assert.equal((await srv.pull(q1)).job, null);
    assert.equal((await srv.pull(q2)).job, null);
  });

  it('a jobId of a completed job still returns that id', async () => {
    const q = qname('jid');
    const jobId = `done-${qname('x')}`;
    await srv.push(q, { data: 1, jobId });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, jobId);
    assert.equal((await srv.ack(jobId, { token: p.token })).status, 200);
    const again = await srv.pushRaw(q, { data: 2, jobId });
    assert.equal(again.status, 200, again.describe);
    assert.equal(again.json.id, jobId);
    const job = await srv.getJob(jobId);
    assert.equal(job.state, 'completed');
    assert.equal(job.data, 1);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('accepts a 256-character jobId and ids with URL-special characters', async () => {
    const q = qname('jid');
    const long = 'j'.repeat(256);
    assert.equal(await srv.push(q, { data: 1, jobId: long }), long);
    assert.equal((await srv.getJob(long)).id, long);
    const odd = `user:42/mail ${qname('x')}?x=1&y#z`;
    assert.equal(await srv.push(q, { data: 2, jobId: odd }), odd);
    assert.equal((await srv.getJob(odd)).id, odd);
  });
});

describe('push: uniqueKey', () => {
  it('a second push with a held key returns the existing id and creates nothing', async () => {
    const q = qname('uk');
    const id = await srv.push(q, { data: 'first', uniqueKey: 'k1' });
    const r = await srv.pushRaw(q, { data: 'second', uniqueKey: 'k1' });
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true, id });
    assert.equal((await srv.getJob(id)).data, 'first');
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    assert.equal((await srv.pull(q)).job, null, 'the duplicate push created a job');
  });

  it('the same key in another queue is independent', async () => {
    const q1 = qname('uk');
    const q2 = qname('uk');
    const a = await srv.push(q1, { data: 'a', uniqueKey: 'shared' });
    const b = await srv.push(q2, { data: 'b', uniqueKey: 'shared' });
    assert.notEqual(a, b);
    assert.equal((await srv.getJob(b)).queue, q2);
  });

  it('is held while delayed, active and between retries', async () => {
    const q = qname('uk');
    const delayed = await srv.push(q, { data: 'd', uniqueKey: 'kd', delay: 60_000 });
    assert.equal(await srv.push(q, { data: 'x', uniqueKey: 'kd' }), delayed);

    const id = await srv.push(q, { data: 'a', uniqueKey: 'ka', backoff: 60_000 });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    assert.equal(await srv.push(q, { data: 'x', uniqueKey: 'ka' }), id, 'key not held while active');
    assert.equal((await srv.fail(id, { token: p.token, error: 'boom' })).status, 200);
    assert.equal((await srv.getJob(id)).state, 'delayed');
    assert.equal(await srv.push(q, { data: 'x', uniqueKey: 'ka' }), id, 'key not held between retries');
    await srv.cancel(delayed);
    await srv.cancel(id);
  });

  it('is released on completion', async () => {
    const q = qname('uk');
    const id = await srv.push(q, { data: 'a', uniqueKey: 'kc' });
    const p = await srv.pull(q);
    assert.equal((await srv.ack(id, { token: p.token })).status, 200);
    const next = await srv.push(q, { data: 'b', uniqueKey: 'kc' });
    assert.notEqual(next, id);
    assert.equal((await srv.getJob(next)).state, 'waiting');
    assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('is released when the job lands in the DLQ', async () => {
    const q = qname('uk');
    const id = await srv.push(q, { data: 'a', uniqueKey: 'kf', maxAttempts: 1 });
    const p = await srv.pull(q);
    assert.equal((await srv.fail(id, { token: p.token, error: 'x' })).status, 200);
    assert.equal((await srv.getJob(id)).state, 'failed');
    const next = await srv.push(q, { data: 'b', uniqueKey: 'kf' });
    assert.notEqual(next, id);
  });

  it('is released on cancel', async () => {
    const q = qname('uk');
    const id = await srv.push(q, { data: 'a', uniqueKey: 'kx' });
    assert.equal((await srv.cancel(id)).status, 200);
    const next = await srv.push(q, { data: 'b', uniqueKey: 'kx' });
    assert.notEqual(next, id);
    const p = await srv.pull(q);
    assert.equal(p.job?.id, next);
  });
});

describe('push: queue names', () => {
  it('accepts names of [A-Za-z0-9_.:-] up to 256 characters', async () => {
    for (const q of [`Az09_.:-${qname('n')}`, 'x', `${qname('long')}-`.padEnd(256, 'z')]) {
      assert.equal(q.length <= 256, true);
      const id = await srv.push(q, { data: 1 });
      assert.equal((await srv.getJob(id)).queue, q);
    }
  });

  it('rejects invalid names with a 400 naming the queue', async () => {
    const bad = ['has space', 'dollar$', 'slash/inside', 'émoji', 'q'.repeat(257), 'star*', 'a,b'];
    for (const q of bad) {
      const r = await srv.request('POST', `/queues/${encodeURIComponent(q)}/jobs`, { data: 1 });
      assert.equal(r.status, 400, r.describe);
      assert.equal(r.json?.ok, false, r.describe);
      assert.match(String(r.json?.error), /queue/i, r.describe);
    }
  });
});
