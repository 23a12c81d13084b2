// `timeout` and `ttl`, both enforced by the server's own timer.
// - timeout: an attempt still active at startedAt + timeout fails with
//   "timeout exceeded" (retry or DLQ); a late ack/fail gets 400 Job not found
//   or not active; progress does not push the deadline; each attempt gets its
//   own timeout.
// - ttl: a job not started by createdAt + ttl goes to the DLQ ("ttl expired")
//   or is removed with removeOnFail, without any pull; no effect once started.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';
import {
  assertAnswer,
  assertBetween,
  assertHappenedBetween,
  BAD_TOKEN,
  NOT_ACTIVE,
  observeState,
  progress,
  SLACK_MS,
} from '../support/lifecycle.ts';

const TIMEOUT_ERR = 'timeout exceeded';
const TTL_ERR = 'ttl expired';
const FIXED_10S = { type: 'fixed', delay: 10_000 };

let srv: TestServer;

before(async () => {
  // Default LOCK_TTL_MS (30 s): any change seen here comes from `timeout` or `ttl`.
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

async function pushAndPull(q: string, body: Record<string, unknown>) {
  const id = await srv.push(q, body);
  const p = await srv.pull(q);
  assert.equal(p.job?.id, id, p.res.describe);
  return { id, token: p.token as string, job: p.job };
}

describe('timeout', () => {
  it('an attempt still active at startedAt + timeout fails (maxAttempts 1 → DLQ); a late ack or fail gets 400 Job not found or not active', async () => {
    const q = qname('to');
    const { id, token, job } = await pushAndPull(q, { data: 'x', timeout: 200, maxAttempts: 1 });
    assert.equal(job.timeout, 200);
    const o = await observeState(srv, id, 'failed', 3000);
    assert.equal(o.view.error, TIMEOUT_ERR);
    assert.equal(o.view.attempts, 1);
    assertHappenedBetween(o, job.startedAt + 200, job.startedAt + 200 + SLACK_MS, 'timeout');
    assertAnswer(await srv.ack(id, { token, result: 'late' }), 400, NOT_ACTIVE);
    assertAnswer(await srv.fail(id, { token, error: 'late' }), 400, NOT_ACTIVE);
    assertAnswer(await srv.ack(id), 400, NOT_ACTIVE);
    const v = await srv.getJob(id);
    assert.equal(v.state, 'failed');
    assert.equal(v.result, null);
    assert.equal(v.error, TIMEOUT_ERR);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('with attempts left the timed-out attempt is retried after the backoff (runAt = timeout time + backoff)', async () => {
    const q = qname('to');
    const { id, token, job } = await pushAndPull(q, { data: 'x', timeout: 200, backoff: FIXED_10S });
    const o = await observeState(srv, id, 'delayed', 3000);
    assert.equal(o.view.error, TIMEOUT_ERR);
    assert.equal(o.view.attempts, 1);
    assertBetween(o.view.runAt - 10_000 - job.startedAt, 200, 200 + SLACK_MS, 'timeout decision − startedAt (server clock)');
    assertAnswer(await srv.ack(id, { token }), 400, NOT_ACTIVE);
    assert.equal((await srv.getJob(id)).attempts, 1);
    await srv.cancel(id);
  });

  it('backoff 0: retried at once; the new attempt has its own timeout from its own startedAt, the old token is refused', async () => {
    const q = qname('to');
    const T = 500;
    const { id, token: t1, job: first } = await pushAndPull(q, { data: 'x', timeout: T, backoff: 0, maxAttempts: 3 });
    // Fail the first attempt by hand after 200 ms, pull the retry at once.
    await sleep(200);
    assertAnswer(await srv.fail(id, { token: t1, error: 'manual' }), 200, { ok: true });
    const p2 = await srv.pull(q);
    assert.equal(p2.job?.id, id, p2.res.describe);
    const s2 = p2.job.startedAt as number;
    assert.ok(s2 >= first.startedAt + 200);
    assertAnswer(await srv.ack(id, { token: t1 }), 400, BAD_TOKEN);
    // Past the first attempt's deadline, the second attempt is still running.
    await sleep(Math.max(0, first.startedAt + T + 80 - Date.now()));
    const mid = await srv.getJob(id);
    if (Date.now() < s2 + T) {
      assert.equal(mid.state, 'active', `the second attempt timed out on the first attempt's deadline: ${JSON.stringify(mid)}`);
      assert.equal(mid.attempts, 1);
    }
    // Left alone, it times out at its own deadline.
    const o = await observeState(srv, id, 'waiting', 3000);
    assert.equal(o.view.attempts, 2);
    assert.equal(o.view.error, TIMEOUT_ERR);
    assertHappenedBetween(o, s2 + T, s2 + T + SLACK_MS, 'second attempt timeout');
    // Third attempt: acked in time.
    const p3 = await srv.pull(q);
    assert.equal(p3.job?.id, id);
    assertAnswer(await srv.ack(id, { token: p3.token, result: 'third' }), 200, { ok: true });
    const done = await srv.getJob(id);
    assert.equal(done.state, 'completed');
    assert.equal(done.attempts, 2);
  });

  it('a job acked in time is not touched by its timeout later', async () => {
    const q = qname('to');
    const { id, token } = await pushAndPull(q, { data: 'x', timeout: 250 });
    await sleep(30);
    assertAnswer(await srv.ack(id, { token, result: 1 }), 200, { ok: true });
    await sleep(250 + SLACK_MS);
    const v = await srv.getJob(id);
    assert.equal(v.state, 'completed');
    assert.equal(v.attempts, 0);
    assert.equal(v.error, null);
    assert.equal(v.result, 1);
  });

  it('progress does not extend the attempt past startedAt + timeout', async () => {
    const q = qname('to');
    const { id, token, job } = await pushAndPull(q, { data: 'x', timeout: 300, maxAttempts: 1 });
    let stop = false;
    const answers: number[] = [];
    const reporter = (async () => {
      let n = 0;
      while (!stop) {
        const r = await progress(srv, id, { progress: ++n, token });
        answers.push(r.status);
        await sleep(40);
      }
    })();
    const o = await observeState(srv, id, 'failed', 3000);
    stop = true;
    await reporter;
    assert.equal(o.view.error, TIMEOUT_ERR);
    assertHappenedBetween(o, job.startedAt + 300, job.startedAt + 300 + SLACK_MS, 'timeout despite progress');
    assert.ok(answers.filter((s) => s === 200).length >= 3, `progress reports before the deadline: ${answers.join(',')}`);
    assertAnswer(await progress(srv, id, { progress: 99, token }), 400, NOT_ACTIVE);
  });

  it('a timeout DLQ releases the uniqueKey', async () => {
    const q = qname('to');
    const key = `k-${qname('t')}`;
    const { id } = await pushAndPull(q, { data: 'x', timeout: 400, maxAttempts: 1, uniqueKey: key });
    assert.equal(await srv.push(q, { data: 'dup', uniqueKey: key }), id);
    await observeState(srv, id, 'failed', 3000);
    const next = await srv.push(q, { data: 'new', uniqueKey: key });
    assert.notEqual(next, id);
    await srv.cancel(next);
  });
});

describe('ttl', () => {
  it('a job not started by createdAt + ttl goes to the DLQ with "ttl expired", by timer, without any pull', async () => {
    const q = qname('ttl');
    const id = await srv.push(q, { data: 'x', ttl: 200 });
    const created = await srv.getJob(id);
    assert.equal(created.ttl, 200);
    assert.equal(created.state, 'waiting');
    const o = await observeState(srv, id, 'failed', 3000);
    assertHappenedBetween(o, created.createdAt + 200, created.createdAt + 200 + SLACK_MS, 'ttl expiry');
    assert.equal(o.view.error, TTL_ERR);
    assert.equal(o.view.startedAt, null);
    assert.equal((await srv.pull(q)).job, null, 'an expired job was handed out');
    assertAnswer(await srv.ack(id), 400, NOT_ACTIVE);
  });

  it('removeOnFail: the expired job is removed (GET 404)', async () => {
    const q = qname('ttl');
    const id = await srv.push(q, { data: 'x', ttl: 150, removeOnFail: true });
    const created = await srv.getJob(id);
    const o = await observeState(srv, id, null, 3000);
    assertHappenedBetween(o, created.createdAt + 150, created.createdAt + 150 + SLACK_MS, 'ttl removal');
    assert.equal((await srv.pull(q)).job, null);
  });

  it('a pull before the ttl wins: the started job keeps running past the ttl and can be acked', async () => {
    const q = qname('ttl');
    const { id, token } = await pushAndPull(q, { data: 'x', ttl: 300 });
    await sleep(300 + SLACK_MS + 50);
    const v = await srv.getJob(id);
    assert.equal(v.state, 'active', `a started job expired: ${JSON.stringify(v)}`);
    assert.equal(v.error, null);
    assertAnswer(await srv.ack(id, { token, result: 'ok' }), 200, { ok: true });
    assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('a started job retried after its ttl passed is not expired: it comes due and can be pulled', async () => {
    const q = qname('ttl');
    const { id, token } = await pushAndPull(q, { data: 'x', ttl: 300, backoff: { type: 'fixed', delay: 500 } });
    assertAnswer(await srv.fail(id, { token, error: 'first' }), 200, { ok: true });
    const retry = await srv.pull(q, 3000);
    assert.equal(retry.job?.id, id, `the retry never came: ${retry.res.describe}; view ${JSON.stringify(await srv.getJob(id))}`);
    assert.equal(retry.job.attempts, 1);
    assert.equal(retry.job.error, 'first');
    assertAnswer(await srv.ack(id, { token: retry.token }), 200, { ok: true });
  });

  it('a delayed job whose ttl passes before it is due expires while delayed and is never handed out', async () => {
    const q = qname('ttl');
    const id = await srv.push(q, { data: 'x', delay: 500, ttl: 150 });
    const created = await srv.getJob(id);
    assert.equal(created.state, 'delayed');
    const o = await observeState(srv, id, 'failed', 3000);
    assertHappenedBetween(o, created.createdAt + 150, created.createdAt + 150 + SLACK_MS, 'ttl expiry while delayed');
    assert.equal(o.view.error, TTL_ERR);
    assert.equal(o.before?.state, 'delayed');
    const p = await srv.pull(q, 700);
    assert.equal(p.job, null, `expired delayed job handed out: ${p.res.describe}`);
  });

  it('a job waiting for its dependencies expires when its ttl passes', async () => {
    const q = qname('ttl');
    const dep = await srv.push(q, { data: 'dep', delay: 60_000 });
    const id = await srv.push(q, { data: 'child', dependsOn: [dep], ttl: 150 });
    assert.equal((await srv.getJob(id)).state, 'waiting-children');
    const o = await observeState(srv, id, 'failed', 3000);
    assert.equal(o.view.error, TTL_ERR);
    await srv.cancel(dep);
  });

  it('a ttl expiry releases the uniqueKey; jobId still answers with the expired job', async () => {
    const q = qname('ttl');
    const key = `k-${qname('t')}`;
    const jobId = `jid-${qname('t')}`;
    const id = await srv.push(q, { data: 'x', ttl: 400, uniqueKey: key, jobId });
    assert.equal(id, jobId);
    assert.equal(await srv.push(q, { data: 'dup', uniqueKey: key }), id);
    await observeState(srv, id, 'failed', 3000);
    const next = await srv.push(q, { data: 'new', uniqueKey: key });
    assert.notEqual(next, id, 'uniqueKey held after the ttl expiry');
    assert.equal(await srv.push(qname('other'), { data: 'again', jobId }), jobId);
    assert.equal((await srv.getJob(jobId)).queue, q);
    await srv.cancel(next);
  });

  it('only the unstarted jobs of a queue expire', async () => {
    const q = qname('ttl');
    const started = await srv.push(q, { data: 'started', ttl: 400 });
    const plain = await srv.push(q, { data: 'no ttl' });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, started);
    const unstarted = await srv.push(q, { data: 'unstarted', ttl: 200, priority: -1 });
    await observeState(srv, unstarted, 'failed', 3000);
    assert.equal((await srv.getJob(started)).state, 'active');
    assert.equal((await srv.getJob(plain)).state, 'waiting');
    assert.equal((await srv.pull(q)).job?.id, plain);
    assert.equal((await srv.pull(q)).job, null);
  });
});
