// Leases and stalls (server with LOCK_TTL_MS=150; tests that need several requests
// inside one lease use a second server with LOCK_TTL_MS=800): a pull grants a lease of
// LOCK_TTL_MS (or the job's `timeout`); when it runs out the attempt is stalled
// (attempts+1, error "lease expired (job stalled)") and retried or dead-lettered;
// the stale token is refused afterwards. POST /jobs/:id/progress renews the
// lease and stores progress/message; its error answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';
import {
  assertAnswer,
  assertBetween,
  assertHappenedBetween,
  BAD_TOKEN,
  NOT_ACTIVE,
  observe,
  observeState,
  progress,
  SLACK_MS,
  viewOrNull,
} from '../support/lifecycle.ts';

const TTL = 150;
const ROOMY_TTL = 800;
const STALLED = 'lease expired (job stalled)';
const FIXED_10S = { type: 'fixed', delay: 10_000 };

let srv: TestServer;
/** Longer leases: for request sequences that must fit inside one lease even on a loaded machine. */
let roomy: TestServer;

before(async () => {
  [srv, roomy] = await Promise.all([
    startServer({ env: { LOCK_TTL_MS: String(TTL) } }),
    startServer({ env: { LOCK_TTL_MS: String(ROOMY_TTL) } }),
  ]);
});
after(async () => {
  await cleanupAll();
});

async function pushAndPull(body: Record<string, unknown>, on: TestServer = srv) {
  const q = qname('lease');
  const id = await on.push(q, body);
  const p = await on.pull(q);
  assert.equal(p.job?.id, id, p.res.describe);
  return { q, id, token: p.token as string, job: p.job };
}

describe('lease expiry (stall)', () => {
  it('an unrenewed lease stalls the attempt at startedAt + LOCK_TTL_MS: attempts+1, error, retry after the backoff', async () => {
    const { id, token, job } = await pushAndPull({ data: 'x', backoff: FIXED_10S });
    assert.equal(job.state, 'active');
    assert.equal(job.attempts, 0);
    const o = await observeState(srv, id, 'delayed', 3000);
    const v = o.view;
    assert.equal(v.attempts, 1, JSON.stringify(v));
    assert.equal(v.error, STALLED);
    // The retry time is the stall time + the fixed backoff: the stall happened between the lease end and the slack.
    const stalledAt = v.runAt - 10_000;
    assertBetween(stalledAt - job.startedAt, TTL, TTL + SLACK_MS, 'stall time − startedAt (server clock)');
    assertHappenedBetween(o, job.startedAt + TTL, job.startedAt + TTL + SLACK_MS, 'stall observed');
    // The late worker cannot finish the stalled attempt.
    for (const r of [await srv.ack(id, { token }), await srv.fail(id, { token, error: 'late' })]) {
      assert.equal(r.status, 400, r.describe);
      assert.ok([NOT_ACTIVE.error, BAD_TOKEN.error].includes(r.json?.error), r.describe);
    }
    const after = await srv.getJob(id);
    assert.equal(after.state, 'delayed');
    assert.equal(after.attempts, 1, 'a refused late fail must not count an attempt');
    await srv.cancel(id);
  });

  it('backoff 0: stalled job is waiting at once, re-delivered with a new token; the old token is refused', async () => {
    const { q, id, token: oldToken } = await pushAndPull({ data: 'x', backoff: 0 }, roomy);
    const o = await observeState(roomy, id, 'waiting', 3000);
    assert.equal(o.view.attempts, 1);
    assert.equal(o.view.error, STALLED);
    const p = await roomy.pull(q);
    assert.equal(p.job?.id, id, p.res.describe);
    assert.notEqual(p.token, oldToken);
    assertAnswer(await roomy.ack(id, { token: oldToken }), 400, BAD_TOKEN);
    assertAnswer(await roomy.fail(id, { token: oldToken, error: 'late' }), 400, BAD_TOKEN);
    assertAnswer(await progress(roomy, id, { progress: 10, token: oldToken }), 400, BAD_TOKEN);
    const still = await roomy.getJob(id);
    assert.equal(still.state, 'active', 'a refused old token must leave the new attempt active');
    assert.equal(still.attempts, 1);
    const r = await roomy.ack(id, { token: p.token, result: 'second try' });
    assertAnswer(r, 200, { ok: true });
    const done = await roomy.getJob(id);
    assert.equal(done.state, 'completed');
    assert.equal(done.attempts, 1);
    assert.equal(done.result, 'second try');
  });

  it('stalls until maxAttempts, then the DLQ (state failed); the uniqueKey is held in between and released after', async () => {
    const key = `uk-${qname('k')}`;
    const { q, id } = await pushAndPull({ data: 'x', backoff: 0, maxAttempts: 2, uniqueKey: key });
    const first = await observeState(srv, id, 'waiting', 3000);
    assert.equal(first.view.attempts, 1);
    // Held while the stalled job waits for its retry.
    assert.equal(await srv.push(q, { data: 'dup', uniqueKey: key }), id, 'uniqueKey not held after a stall');
    const p2 = await srv.pull(q);
    assert.equal(p2.job?.id, id, p2.res.describe);
    assert.equal(p2.job.attempts, 1);
    const dead = await observeState(srv, id, 'failed', 3000);
    assert.equal(dead.view.attempts, 2);
    assert.equal(dead.view.error, STALLED);
    assertHappenedBetween(dead, p2.job.startedAt + TTL, p2.job.startedAt + TTL + SLACK_MS, 'second stall, one lease after its own pull');
    assert.equal((await srv.pull(q)).job, null, 'a job in the DLQ is not pullable');
    assertAnswer(await srv.ack(id, { token: p2.token }), 400, NOT_ACTIVE);
    // Released at the DLQ.
    const next = await srv.push(q, { data: 'new', uniqueKey: key });
    assert.notEqual(next, id, 'uniqueKey still held after the stall sent the job to the DLQ');
    assert.equal((await srv.getJob(id)).state, 'failed');
    await srv.cancel(next);
  });

  it('maxAttempts 1 + removeOnFail: the stall removes the job (GET 404)', async () => {
    const { q, id } = await pushAndPull({ data: 'x', maxAttempts: 1, removeOnFail: true });
    const o = await observeState(srv, id, null, 3000);
    assert.equal(o.view, null);
    assert.equal(o.before?.state, 'active');
    assert.equal((await srv.pull(q)).job, null);
  });

  it('a job with `timeout` gets a lease of `timeout`, not LOCK_TTL_MS', async () => {
    const { id, token, job } = await pushAndPull({ data: 'x', timeout: 800, backoff: FIXED_10S });
    await sleep(Math.max(0, job.startedAt + 3 * TTL - Date.now()));
    const mid = await srv.getJob(id);
    assert.equal(mid.state, 'active', `stalled after ~${3 * TTL} ms although timeout is 800: ${JSON.stringify(mid)}`);
    assert.equal(mid.attempts, 0);
    assertAnswer(await srv.ack(id, { token }), 200, { ok: true });
    assert.equal((await srv.getJob(id)).state, 'completed');
  });

  it('two stalled jobs (backoff 0) return to the queue in their original order', async () => {
    const q = qname('lease');
    const ids = [await srv.push(q, { data: 1, backoff: 0 }), await srv.push(q, { data: 2, backoff: 0 })];
    const a = await srv.pull(q);
    const b = await srv.pull(q);
    assert.deepEqual([a.job?.id, b.job?.id].sort(), [...ids].sort());
    for (const id of ids) {
      const o = await observeState(srv, id, 'waiting', 3000);
      assert.equal(o.view.attempts, 1);
    }
    // Both back in the queue, in their original order.
    assert.equal((await srv.pull(q)).job?.id, ids[0]);
    assert.equal((await srv.pull(q)).job?.id, ids[1]);
  });
});

describe('progress', () => {
  it('renews the lease: a job reporting every ~35 ms outlives many LOCK_TTL_MS, then stalls LOCK_TTL_MS after the last report', async () => {
    const { id, token, job } = await pushAndPull({ data: 'x', backoff: FIXED_10S });
    let lastSentAt = 0;
    let lastAnsweredAt = 0;
    for (let i = 1; i <= 16; i++) {
      lastSentAt = Date.now();
      const r = await progress(srv, id, { progress: i * 5, message: `step ${i}`, token });
      lastAnsweredAt = Date.now();
      assertAnswer(r, 200, { ok: true });
      await sleep(35);
    }
    assert.ok(Date.now() - job.startedAt >= 4 * TTL, 'the loop outlasted several leases');
    // Nothing expired meanwhile... (checked right after the loop, before the renewed lease can run out)
    const v = await srv.getJob(id);
    if (Date.now() - lastAnsweredAt < TTL) {
      assert.equal(v.state, 'active', `stalled despite progress: ${JSON.stringify(v)}`);
      assert.equal(v.attempts, 0);
    }
    assert.equal(v.progress, 80);
    assert.equal(v.progressMessage, 'step 16');
    // ...and without reports it stalls one LOCK_TTL_MS after the last one.
    const o = await observeState(srv, id, 'delayed', 3000);
    assert.equal(o.view.attempts, 1);
    assert.equal(o.view.error, STALLED);
    const stalledAt = o.view.runAt - 10_000;
    assertBetween(stalledAt, lastSentAt + TTL - 2, lastAnsweredAt + TTL + SLACK_MS, 'stall time vs last progress');
    await srv.cancel(id);
  });

  it('the worker can ack after keeping the lease alive; progress then reads 100', async () => {
    // The roomy lease: under a loaded CI machine one answer can take longer than 150 ms.
    const { id, token } = await pushAndPull({ data: 'x' }, roomy);
    for (let i = 0; i < 10; i++) {
      assertAnswer(await progress(roomy, id, { progress: 42, token }), 200, { ok: true });
      await sleep(40);
    }
    assert.equal((await roomy.getJob(id)).progress, 42);
    assertAnswer(await roomy.ack(id, { token, result: 'ok' }), 200, { ok: true });
    const v = await roomy.getJob(id);
    assert.equal(v.state, 'completed');
    assert.equal(v.attempts, 0);
    assert.equal(v.progress, 100);
  });

  it('is accepted without a token while active, and accepts the bounds 0 and 100', async () => {
    const { id, token } = await pushAndPull({ data: 'x' }, roomy);
    assertAnswer(await progress(roomy, id, { progress: 0 }), 200, { ok: true });
    assert.equal((await roomy.getJob(id)).progress, 0);
    assertAnswer(await progress(roomy, id, { progress: 100, message: 'almost' }), 200, { ok: true });
    const v = await roomy.getJob(id);
    assert.equal(v.progress, 100);
    assert.equal(v.progressMessage, 'almost');
    assert.equal(v.state, 'active');
    assertAnswer(await roomy.ack(id, { token }), 200, { ok: true });
  });

  it('a non-active or unknown job: 400 Job not found or not active', async () => {
    const q = qname('prog');
    assertAnswer(await progress(roomy, 'no-such-job', { progress: 1 }), 400, NOT_ACTIVE);
    const waiting = await roomy.push(q, { data: 'w', delay: 60_000 });
    assertAnswer(await progress(roomy, waiting, { progress: 1 }), 400, NOT_ACTIVE);
    const id = await roomy.push(q, { data: 'x' });
    assertAnswer(await progress(roomy, id, { progress: 1 }), 400, NOT_ACTIVE);
    const p = await roomy.pull(q);
    assert.equal(p.job?.id, id);
    assertAnswer(await roomy.ack(id, { token: p.token }), 200, { ok: true });
    assertAnswer(await progress(roomy, id, { progress: 1, token: p.token }), 400, NOT_ACTIVE);
    assert.equal((await roomy.getJob(id)).progress, 100, 'a refused progress changed the job');
    await roomy.cancel(waiting);
  });

  it('a wrong token: 400 Invalid or expired lock token, nothing changes, the lease is not renewed by it', async () => {
    const { id, token } = await pushAndPull({ data: 'x', backoff: FIXED_10S });
    assertAnswer(await progress(srv, id, { progress: 7, token }), 200, { ok: true });
    const sentAt = Date.now();
    assertAnswer(await progress(srv, id, { progress: 50, message: 'forged', token: 'not-the-token' }), 400, BAD_TOKEN);
    const v = await srv.getJob(id);
    assert.equal(v.progress, 7);
    assert.notEqual(v.progressMessage, 'forged');
    // Keep sending forged reports: the lease must still run out.
    const forger = (async () => {
      for (let i = 0; i < 8; i++) {
        await progress(srv, id, { progress: 9, token: 'not-the-token' });
        await sleep(40);
      }
    })();
    const o = await observeState(srv, id, 'delayed', 3000);
    await forger;
    assert.equal(o.view.attempts, 1);
    assert.ok(o.view.runAt - 10_000 <= sentAt + TTL + SLACK_MS, 'forged reports extended the lease');
    await srv.cancel(id);
  });

  it('rejects a progress outside 0..100 or not a number with a 400 naming `progress`', async () => {
    const { id, token } = await pushAndPull({ data: 'x' }, roomy);
    for (const body of [{ progress: -1 }, { progress: 101 }, { progress: '50' }, { progress: null }, {}, { progress: true }]) {
      const r = await progress(roomy, id, { ...body, token });
      assert.equal(r.status, 400, r.describe);
      assert.equal(r.json?.ok, false, r.describe);
      assert.match(String(r.json?.error), /progress/, r.describe);
    }
    const r = await progress(roomy, id, { progress: 5, message: 42, token });
    assert.equal(r.status, 400, r.describe);
    assert.match(String(r.json?.error), /message/, r.describe);
    const v = await roomy.getJob(id);
    assert.equal(v.progress, 0, 'a rejected progress changed the job');
    assert.equal(v.state, 'active');
    assertAnswer(await roomy.ack(id, { token }), 200, { ok: true });
  });
});

describe('stall and dependents', () => {
  it('a dependency stalled into the DLQ fails its dependent with "dependency failed: <id>"', async () => {
    const q = qname('lease-dep');
    const dep = await srv.push(q, { data: 'dep', maxAttempts: 1 });
    const child = await srv.push(q, { data: 'child', dependsOn: [dep] });
    assert.equal((await srv.getJob(child)).state, 'waiting-children');
    const p = await srv.pull(q);
    assert.equal(p.job?.id, dep);
    const o = await observe(srv, child, (v) => v?.state === 'failed', 'child fails', 3000);
    assert.equal(o.view.error, `dependency failed: ${dep}`);
    const d = await viewOrNull(srv, dep);
    assert.equal(d?.state, 'failed');
    assert.equal(d?.error, STALLED);
    assert.equal((await srv.pull(q)).job, null);
  });
});
