// Long-poll pulls: GET /queues/:queue/jobs?timeout=ms — answered as soon as a
// job is ready, one push wakes exactly one waiter in arrival order, null after
// the timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type PullResult, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

/** Wraps a promise so its settled state can be inspected synchronously. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean; value: () => T | undefined } {
  let done = false;
  let value: T | undefined;
  const promise = p.then((v) => {
    done = true;
    value = v;
    return v;
  });
  promise.catch(() => {
    done = true;
  });
  return { promise, settled: () => done, value: () => value };
}

describe('long-poll', () => {
  it('answers job:null once the timeout passes', async () => {
    const q = qname('lp');
    const t0 = Date.now();
    const r = await srv.pull(q, 300);
    const elapsed = Date.now() - t0;
    assert.equal(r.job, null);
    assert.equal(r.token, null);
    assert.ok(elapsed >= 280, `answered after ${elapsed} ms, before the 300 ms timeout`);
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
  });

  it('a waiting pull is answered as soon as a job is pushed', async () => {
    const q = qname('lp');
    const t0 = Date.now();
    const waiter = srv.pull(q, 10_000);
    await sleep(150);
    const id = await srv.push(q, { data: 'wake' });
    const r = await waiter;
    const elapsed = Date.now() - t0;
    assert.equal(r.job?.id, id, r.res.describe);
    assert.equal(typeof r.token, 'string');
    assert.equal(r.job.state, 'active');
    assert.ok(elapsed < 1500, `long-poll answered ${elapsed} ms after start (push at ~150 ms)`);
    assert.equal((await srv.getJob(id)).state, 'active');
    assert.equal((await srv.ack(id, { token: r.token })).status, 200, 'the token handed to a waiter works');
  });

  it('one push wakes exactly one waiter, first come first served', async () => {
    const q = qname('lp');
    const waiters = [] as ReturnType<typeof track<PullResult>>[];
    for (let i = 0; i < 3; i++) {
      waiters.push(track(srv.pull(q, 8000)));
      await sleep(60); // make arrival order unambiguous
    }
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await srv.push(q, { data: i }));
      const r = await waiters[i]!.promise;
      assert.equal(r.job?.id, ids[i], `push #${i} should wake waiter #${i}: ${r.res.describe}`);
      await sleep(100);
      for (let j = i + 1; j < 3; j++) {
        assert.equal(waiters[j]!.settled(), false, `waiter #${j} was answered by push #${i}`);
      }
    }
    // Nothing left over.
    assert.equal((await srv.pull(q)).job, null);
  });

  it('a burst of pushes feeds every waiter, each job once', async () => {
    const q = qname('lp');
    const waiters = Array.from({ length: 10 }, () => srv.pull(q, 8000));
    await sleep(150);
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => srv.push(q, { data: i })));
    const results = await Promise.all(waiters);
    const got = results.map((r) => r.job?.id);
    assert.equal(got.filter(Boolean).length, 10, JSON.stringify(got));
    assert.deepEqual([...got].sort(), [...ids].sort());
  });

  it('a push to another queue does not wake the waiter', async () => {
    const q = qname('lp');
    const other = qname('lp');
    const waiter = track(srv.pull(q, 600));
    await sleep(100);
    const otherId = await srv.push(other, { data: 'elsewhere' });
    const r = await waiter.promise;
    assert.equal(r.job, null, r.res.describe);
    assert.equal((await srv.getJob(otherId)).state, 'waiting');
  });

  it('an already-ready job is returned at once even with a long timeout', async () => {
    const q = qname('lp');
    const id = await srv.push(q, { data: 1 });
    const t0 = Date.now();
    const r = await srv.pull(q, 30_000);
    assert.equal(r.job?.id, id);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('a delayed job that becomes due answers a waiting pull', async () => {
    const q = qname('lp');
    const t0 = Date.now();
    const waiter = srv.pull(q, 5000);
    await sleep(50);
    const id = await srv.push(q, { data: 'soon', delay: 200 });
    const r = await waiter;
    const elapsed = Date.now() - t0;
    assert.equal(r.job?.id, id, r.res.describe);
    assert.ok(elapsed >= 240, `handed out after ${elapsed} ms, before it was due`);
    assert.ok(elapsed < 1500, `handed out ${elapsed} ms after start, due at ~250 ms`);
  });

  it('a timeout above 60000 is accepted (capped, not rejected)', async () => {
    const q = qname('lp');
    const waiter = srv.pull(q, 120_000);
    await sleep(100);
    const id = await srv.push(q, { data: 1 });
    const r = await waiter;
    assert.equal(r.job?.id, id, r.res.describe);
  });

  it('a pull whose client went away does not swallow the next job', async () => {
    const q = qname('lp');
    const ctrl = new AbortController();
    const gone = srv.pull(q, 10_000, { signal: ctrl.signal }).catch(() => 'aborted');
    await sleep(100);
    ctrl.abort();
    assert.equal(await gone, 'aborted');
    await sleep(100);
    const id = await srv.push(q, { data: 'for a live worker' });
    const r = await srv.pull(q);
    assert.equal(r.job?.id, id, `the job went to a disconnected long-poll: ${r.res.describe}; state ${(await srv.getJob(id)).state}`);
  });
});
