// Ack and fail: POST /jobs/:id/ack, POST /jobs/:id/fail — completion, results,
// lease tokens, retries with backoff (number, fixed, exponential, cap), DLQ,
// removeOnComplete / removeOnFail, the 400 answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

const NOT_ACTIVE = { ok: false, error: 'Job not found or not active' };
const BAD_TOKEN = { ok: false, error: 'Invalid or expired lock token' };

/** Pushes one job into a fresh queue and pulls it. */
async function active(body: Record<string, unknown> = { data: 'x' }) {
  const q = qname('af');
  const id = await srv.push(q, body);
  const p = await srv.pull(q);
  assert.equal(p.job?.id, id, p.res.describe);
  return { q, id, token: p.token as string, job: p.job };
}

/** Fails with the token and returns [before, after] wall-clock bounds of the call. */
async function failTimed(id: string, body: Record<string, unknown>): Promise<[number, number]> {
  const t0 = Date.now();
  const r = await srv.fail(id, body);
  const t1 = Date.now();
  assert.equal(r.status, 200, r.describe);
  assert.deepEqual(r.json, { ok: true });
  return [t0, t1];
}

function assertRunAt(runAt: number, [t0, t1]: [number, number], delay: number, what: string) {
  assert.ok(
    runAt >= t0 + delay - 5 && runAt <= t1 + delay + 5,
    `${what}: runAt ${runAt} should be fail time + ${delay}, fail time in [${t0}, ${t1}] → [${t0 + delay}, ${t1 + delay}]`,
  );
}

/** Waits until `runAt` plus slack, then pulls the job again; returns the new token. */
async function pullWhenDue(q: string, id: string, runAt: number): Promise<string> {
  await sleep(Math.max(0, runAt - Date.now()) + 50);
  const p = await srv.pull(q);
  assert.equal(p.job?.id, id, `retry not pullable 50 ms after runAt: ${p.res.describe}`);
  return p.token as string;
}

describe('ack', () => {
  it('completes the job with its token and stores the result', async () => {
    const { id, token, job } = await active();
    const result = { sent: true, messageId: 'abc-123', list: [1, 2, { x: null }] };
    const t0 = Date.now();
    const r = await srv.ack(id, { result, token });
    const t1 = Date.now();
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true });
    const got = await srv.getJob(id);
    assert.equal(got.state, 'completed');
    assert.deepEqual(got.result, result);
    assert.equal(typeof got.completedAt, 'number');
    assert.ok(got.completedAt >= t0 - 5 && got.completedAt <= t1 + 5, `completedAt ${got.completedAt} not in [${t0}, ${t1}]`);
    assert.ok(got.completedAt >= got.startedAt);
    assert.equal(got.startedAt, job.startedAt);
    assert.equal(got.attempts, 0, 'a successful attempt is not counted as a failure');
    assert.equal(got.error, null);
  });

  it('accepts scalar results', async () => {
    for (const result of ['done', 42, false, [1, 2]]) {
      const { id, token } = await active();
      assert.equal((await srv.ack(id, { result, token })).status, 200);
      assert.deepEqual((await srv.getJob(id)).result, result);
    }
  });

  it('accepts no token while the job is active', async () => {
    const { id } = await active();
    const r = await srv.ack(id, { result: 7 });
    assert.equal(r.status, 200, r.describe);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'completed');
    assert.equal(got.result, 7);
  });

  it('accepts no body at all; result stays null', async () => {
    const { id } = await active();
    const r = await srv.request('POST', `/jobs/${id}/ack`);
    assert.equal(r.status, 200, r.describe);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'completed');
    assert.equal(got.result, null);
  });

  it('a wrong token is rejected and the job stays active; the right one then works', async () => {
    const { id, token } = await active();
    const r = await srv.ack(id, { token: 'not-the-token', result: 1 });
    assert.equal(r.status, 400, r.describe);
    assert.deepEqual(r.json, BAD_TOKEN);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'active');
    assert.equal(got.result, null);
    assert.equal((await srv.ack(id, { token, result: 2 })).status, 200);
    assert.equal((await srv.getJob(id)).result, 2);
  });

  it('a job that is not active or does not exist gets 400 Job not found or not active', async () => {
    const q = qname('af');
    const waiting = await srv.push(q, { data: 1, priority: -1 });
    const delayed = await srv.push(q, { data: 1, delay: 60_000 });
    for (const id of [waiting, delayed, 'no-such-job-id']) {
      const r = await srv.ack(id, { result: 1 });
      assert.equal(r.status, 400, r.describe);
      assert.deepEqual(r.json, NOT_ACTIVE, r.describe);
    }
    assert.equal((await srv.getJob(waiting)).state, 'waiting');
    assert.equal((await srv.getJob(delayed)).state, 'delayed');
  });

  it('a second ack gets 400 and does not change the result', async () => {
    const { id, token } = await active();
    assert.equal((await srv.ack(id, { token, result: 'first' })).status, 200);
    const r = await srv.ack(id, { token, result: 'second' });
    assert.equal(r.status, 400, r.describe);
    assert.deepEqual(r.json, NOT_ACTIVE);
    assert.equal((await srv.getJob(id)).result, 'first');
  });

  it('fail after ack gets 400', async () => {
    const { id, token } = await active();
    assert.equal((await srv.ack(id, { token })).status, 200);
    const r = await srv.fail(id, { token, error: 'late' });
    assert.equal(r.status, 400, r.describe);
    assert.deepEqual(r.json, NOT_ACTIVE);
    assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('removeOnComplete: the job is gone after ack', async () => {
    const { id, token } = await active({ data: 1, removeOnComplete: true });
    assert.equal((await srv.ack(id, { token, result: 1 })).status, 200);
    const r = await srv.getRaw(id);
    assert.equal(r.status, 404, r.describe);
    assert.deepEqual(r.json, { ok: false, error: 'Job not found' });
  });
});

describe('fail', () => {
  it('with attempts left: attempts+1, delayed at fail time + backoff, error stored', async () => {
    const { q, id, token } = await active({ data: 1 }); // backoff 1000, maxAttempts 3
    const bounds = await failTimed(id, { token, error: 'SMTP connection refused' });
    const got = await srv.getJob(id);
    assert.equal(got.state, 'delayed');
    assert.equal(got.attempts, 1);
    assert.equal(got.error, 'SMTP connection refused');
    assertRunAt(got.runAt, bounds, 1000, 'first retry');
    assert.equal(got.completedAt, null);
    assert.equal((await srv.pull(q)).job, null, 'a retry must not be pullable before it is due');
  });

  it('exponential backoff (number): backoff × 2^(attempts−1), then DLQ after maxAttempts', async () => {
    const { q, id, token } = await active({ data: 1, backoff: 60, maxAttempts: 3 });
    let b = await failTimed(id, { token, error: 'e1' });
    let got = await srv.getJob(id);
    assert.equal(got.state, 'delayed');
    assert.equal(got.attempts, 1);
    assertRunAt(got.runAt, b, 60, 'retry after failure 1');
    const token2 = await pullWhenDue(q, id, got.runAt);
    assert.equal((await srv.getJob(id)).attempts, 1, 'a pull does not change attempts');

    b = await failTimed(id, { token: token2, error: 'e2' });
    got = await srv.getJob(id);
    assert.equal(got.state, 'delayed');
    assert.equal(got.attempts, 2);
    assert.equal(got.error, 'e2');
    assertRunAt(got.runAt, b, 120, 'retry after failure 2');
    const token3 = await pullWhenDue(q, id, got.runAt);

    await failTimed(id, { token: token3, error: 'final error' });
    got = await srv.getJob(id);
    assert.equal(got.state, 'failed');
    assert.equal(got.attempts, 3);
    assert.equal(got.error, 'final error');
    await sleep(150);
    assert.equal((await srv.pull(q)).job, null, 'a job in the DLQ must not be pulled');
  });

  it('backoff {type:"exponential", delay}', async () => {
    const { q, id, token } = await active({ data: 1, backoff: { type: 'exponential', delay: 50 }, maxAttempts: 4 });
    let b = await failTimed(id, { token, error: 'e1' });
    let got = await srv.getJob(id);
    assertRunAt(got.runAt, b, 50, 'exponential retry 1');
    const t2 = await pullWhenDue(q, id, got.runAt);
    b = await failTimed(id, { token: t2, error: 'e2' });
    got = await srv.getJob(id);
    assertRunAt(got.runAt, b, 100, 'exponential retry 2');
    const t3 = await pullWhenDue(q, id, got.runAt);
    b = await failTimed(id, { token: t3, error: 'e3' });
    got = await srv.getJob(id);
    assert.equal(got.attempts, 3);
    assertRunAt(got.runAt, b, 200, 'exponential retry 3');
    await srv.cancel(id);
  });

  it('backoff {type:"fixed", delay}: always the same delay', async () => {
    const { q, id, token } = await active({ data: 1, backoff: { type: 'fixed', delay: 80 }, maxAttempts: 4 });
    let b = await failTimed(id, { token, error: 'e1' });
    let got = await srv.getJob(id);
    assertRunAt(got.runAt, b, 80, 'fixed retry 1');
    const t2 = await pullWhenDue(q, id, got.runAt);
    b = await failTimed(id, { token: t2, error: 'e2' });
    got = await srv.getJob(id);
    assertRunAt(got.runAt, b, 80, 'fixed retry 2');
    const t3 = await pullWhenDue(q, id, got.runAt);
    b = await failTimed(id, { token: t3, error: 'e3' });
    got = await srv.getJob(id);
    assertRunAt(got.runAt, b, 80, 'fixed retry 3');
    await srv.cancel(id);
  });

  it('the computed retry delay is capped at one hour', async () => {
    const { id, token } = await active({ data: 1, backoff: 7_200_000 });
    const b = await failTimed(id, { token, error: 'slow' });
    const got = await srv.getJob(id);
    assert.equal(got.state, 'delayed');
    assertRunAt(got.runAt, b, 3_600_000, 'capped retry');
    await srv.cancel(id);
  });

  it('backoff 0: the job is waiting again at once and pullable', async () => {
    const { q, id, token } = await active({ data: 1, backoff: 0 });
    await failTimed(id, { token, error: 'retry now' });
    const got = await srv.getJob(id);
    assert.equal(got.state, 'waiting');
    assert.equal(got.attempts, 1);
    assert.equal(got.error, 'retry now');
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id, p.res.describe);
    assert.equal(p.job.attempts, 1);
    assert.notEqual(p.token, token, 'a new attempt gets a new token');
  });

  it('the previous attempt\'s token is rejected on the next attempt', async () => {
    const { q, id, token } = await active({ data: 1, backoff: 0 });
    await failTimed(id, { token });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
    for (const r of [await srv.ack(id, { token }), await srv.fail(id, { token })]) {
      assert.equal(r.status, 400, r.describe);
      assert.deepEqual(r.json, BAD_TOKEN);
    }
    assert.equal((await srv.getJob(id)).state, 'active');
    assert.equal((await srv.ack(id, { token: p.token })).status, 200);
  });

  it('maxAttempts 1: the first failure moves the job to the DLQ (state failed)', async () => {
    const { q, id, token } = await active({ data: 1, maxAttempts: 1 });
    await failTimed(id, { token, error: 'fatal' });
    const got = await srv.getJob(id);
    assert.equal(got.state, 'failed');
    assert.equal(got.attempts, 1);
    assert.equal(got.error, 'fatal');
    assert.equal(got.result, null);
    assert.equal((await srv.pull(q)).job, null);
  });

  it('accepts no token and no body', async () => {
    const { id } = await active({ data: 1, maxAttempts: 1 });
    const r = await srv.request('POST', `/jobs/${id}/fail`);
    assert.equal(r.status, 200, r.describe);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'failed');
    assert.equal(got.attempts, 1);
  });

  it('a wrong token is rejected and nothing changes', async () => {
    const { id, token } = await active({ data: 1 });
    const r = await srv.fail(id, { token: 'nope', error: 'x' });
    assert.equal(r.status, 400, r.describe);
    assert.deepEqual(r.json, BAD_TOKEN);
    const got = await srv.getJob(id);
    assert.equal(got.state, 'active');
    assert.equal(got.attempts, 0);
    assert.equal(got.error, null);
    assert.equal((await srv.fail(id, { token, error: 'y' })).status, 200);
  });

  it('a job that is not active or does not exist gets 400 Job not found or not active', async () => {
    const q = qname('af');
    const waiting = await srv.push(q, { data: 1, priority: -1 });
    const { id: inDlq, token } = await active({ data: 1, maxAttempts: 1 });
    await failTimed(inDlq, { token, error: 'x' });
    for (const id of [waiting, inDlq, 'no-such-job-id']) {
      const r = await srv.fail(id, { error: 'x' });
      assert.equal(r.status, 400, r.describe);
      assert.deepEqual(r.json, NOT_ACTIVE, r.describe);
    }
    const got = await srv.getJob(inDlq);
    assert.equal(got.attempts, 1, 'a rejected fail must not count an attempt');
    assert.equal((await srv.getJob(waiting)).attempts, 0);
  });

  it('removeOnFail: gone after the last failure, kept while retries remain', async () => {
    const last = await active({ data: 1, maxAttempts: 1, removeOnFail: true });
    await failTimed(last.id, { token: last.token, error: 'x' });
    const r = await srv.getRaw(last.id);
    assert.equal(r.status, 404, r.describe);
    assert.deepEqual(r.json, { ok: false, error: 'Job not found' });

    const retrying = await active({ data: 1, maxAttempts: 2, removeOnFail: true, backoff: 60_000 });
    await failTimed(retrying.id, { token: retrying.token, error: 'x' });
    assert.equal((await srv.getJob(retrying.id)).state, 'delayed');
    await srv.cancel(retrying.id);
  });
});
