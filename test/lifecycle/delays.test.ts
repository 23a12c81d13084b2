// Delays and retry backoffs come due on time: a delayed job or a retry is
// `delayed` until its runAt and `waiting` (pullable) right after, whatever the
// order in which deadlines were set or cancelled. "On time" = handed out no
// earlier than runAt and at most SLACK_MS after (server's runAt/startedAt).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, pool, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';
import {
  assertAnswer,
  assertHappenedBetween,
  assertNothingFor,
  assertOnTime,
  drainQueue,
  observeState,
  pullWithin,
  SLACK_MS,
} from '../support/lifecycle.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

describe('delay', () => {
  it('state is delayed until runAt and waiting within the slack after, without any pull', async () => {
    const q = qname('dl');
    const id = await srv.push(q, { data: 'x', delay: 300 });
    const v = await srv.getJob(id);
    assert.equal(v.state, 'delayed');
    assert.equal(v.runAt, v.createdAt + 300);
    const o = await observeState(srv, id, 'waiting', 3000);
    assertHappenedBetween(o, v.runAt, v.runAt + SLACK_MS, 'promotion');
    assert.equal(o.before?.state, 'delayed');
    assert.equal(o.view.runAt, v.runAt, 'promotion changed runAt');
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
  });

  it('jobs pushed with delays out of order are handed to waiting pullers in runAt order, each on time', async () => {
    const q = qname('dl');
    const delays = [600, 200, 450, 100, 520, 300, 380, 250];
    const ids = new Map<string, number>();
    for (const d of delays) ids.set(await srv.push(q, { data: { d }, delay: d }), d);
    const got: any[] = [];
    // Three pullers, each long-polling until all jobs came; the idle ones are aborted then.
    const stop = new AbortController();
    await Promise.all(
      [0, 1, 2].map(async () => {
        while (got.length < delays.length) {
          let p;
          try {
            p = await srv.pull(q, 1500, { signal: stop.signal });
          } catch (err) {
            if (stop.signal.aborted) break;
            throw err;
          }
          if (!p.job) break;
          got.push(p.job);
          if (got.length === delays.length) stop.abort();
        }
      }),
    );
    assert.equal(got.length, delays.length, `only ${got.length} of ${delays.length} came`);
    for (const job of got) {
      assert.equal(job.runAt, job.createdAt + ids.get(job.id)!, 'runAt = createdAt + delay');
      assertOnTime(job, `delay ${ids.get(job.id)}`);
    }
    const byStart = [...got].sort((a, b) => a.startedAt - b.startedAt || a.runAt - b.runAt);
    const runAts = byStart.map((j) => j.runAt);
    assert.deepEqual(runAts, [...runAts].sort((a, b) => a - b), 'handed out in runAt order');
  });

  it('a short delay pushed after a long one is not held back by it', async () => {
    const q = qname('dl');
    const long = await srv.push(q, { data: 'long', delay: 5000 });
    const short = await srv.push(q, { data: 'short', delay: 150 });
    const p = await pullWithin(srv, q, 2000, 'short delay');
    assert.equal(p.job.id, short);
    assertOnTime(p.job, 'short delay after a long one');
    assert.equal((await srv.getJob(long)).state, 'delayed');
    await srv.cancel(long);
  });

  it('cancelling the earliest delayed job does not disturb the later ones', async () => {
    const q = qname('dl');
    const first = await srv.push(q, { data: 'first', delay: 100 });
    const second = await srv.push(q, { data: 'second', delay: 250 });
    assertAnswer(await srv.cancel(first), 200, { ok: true });
    const p = await pullWithin(srv, q, 2000, 'second');
    assert.equal(p.job.id, second, 'the cancelled job was handed out');
    assertOnTime(p.job, 'second delayed job');
    await assertNothingFor(srv, q, 150, 'after the second job');
  });

  it('200 jobs due at about the same time all come due, in runAt then push order', async () => {
    const q = qname('dl');
    const n = 200;
    const ids = await pool(
      Array.from({ length: n }, (_, i) => i),
      16,
      (i) => srv.push(q, { data: i, delay: 300 }),
    );
    const views = await pool(ids, 16, (id) => srv.getJob(id));
    const lastRunAt = Math.max(...views.map((v) => v.runAt));
    await sleep(Math.max(0, lastRunAt - Date.now()) + SLACK_MS);
    const pulled: any[] = [];
    for (;;) {
      const p = await srv.pull(q);
      if (!p.job) break;
      pulled.push(p.job);
    }
    assert.equal(pulled.length, n, `${pulled.length} of ${n} were ready ${SLACK_MS} ms after the last runAt`);
    for (let i = 1; i < pulled.length; i++) {
      assert.ok(pulled[i].runAt >= pulled[i - 1].runAt, `runAt order broken at ${i}: ${pulled[i - 1].runAt} then ${pulled[i].runAt}`);
    }
    assert.equal(new Set(pulled.map((j) => j.id)).size, n);
  });
});

describe('many timers at once', () => {
  it('1100 jobs due at the same moment (more than one timer batch) are all ready right after', async () => {
    const q = qname('dl-many');
    const n = 1100;
    const target = Date.now() + 2500;
    // delay chosen per push so that every runAt lands on `target` (± clock rounding).
    const ids = await pool(
      Array.from({ length: n }, (_, i) => i),
      32,
      (i) => srv.push(q, { data: i, delay: Math.max(0, target - Date.now()) }),
    );
    // (On a very slow machine the last pushes may land after `target`, with delay 0: still all ready below.)
    const sample = await srv.getJob(ids[n - 1]!);
    if (Date.now() < target - 20) assert.equal(sample.state, 'delayed');
    await sleep(Math.max(0, target - Date.now()) + SLACK_MS);
    const pulled = await drainQueue(srv, q);
    assert.equal(pulled.length, n, `only ${pulled.length} of ${n} jobs were ready ${SLACK_MS} ms after they were due`);
    for (const { job } of pulled) assert.ok(job.startedAt >= job.runAt, 'handed out before its runAt');
  });
});

describe('retry backoff', () => {
  it('a retry is delayed until fail time + backoff and handed out on time', async () => {
    const q = qname('bo');
    const id = await srv.push(q, { data: 'x', backoff: { type: 'fixed', delay: 250 } });
    const p = await srv.pull(q);
    const t0 = Date.now();
    assertAnswer(await srv.fail(p.job.id, { token: p.token, error: 'e1' }), 200, { ok: true });
    const t1 = Date.now();
    const v = await srv.getJob(id);
    assert.equal(v.state, 'delayed');
    assert.ok(v.runAt >= t0 + 250 - 2 && v.runAt <= t1 + 250 + 2, `runAt ${v.runAt} vs fail in [${t0}, ${t1}]`);
    assert.equal((await srv.pull(q)).job, null, 'retry handed out before its backoff');
    const r = await pullWithin(srv, q, 2000, 'retry');
    assert.equal(r.job.id, id);
    assert.equal(r.job.attempts, 1);
    assertOnTime(r.job, 'retry');
    assertAnswer(await srv.ack(id, { token: r.token }), 200, { ok: true });
  });

  it('exponential backoff: each retry comes due on time (100 ms, then 200 ms)', async () => {
    const q = qname('bo');
    const id = await srv.push(q, { data: 'x', backoff: 100, maxAttempts: 3 });
    let p = await pullWithin(srv, q, 1000, 'first');
    for (const wait of [100, 200]) {
      const failedAt = Date.now();
      assertAnswer(await srv.fail(id, { token: p.token, error: `e${wait}` }), 200, { ok: true });
      const v = await srv.getJob(id);
      assert.ok(v.runAt - failedAt >= wait - 2 && v.runAt - failedAt <= wait + 50, `retry wait ${v.runAt - failedAt}, expected ${wait}`);
      p = await pullWithin(srv, q, 2000, `retry after ${wait}`);
      assert.equal(p.job.id, id);
      assertOnTime(p.job, `retry after ${wait} ms`);
    }
    assertAnswer(await srv.fail(id, { token: p.token, error: 'last' }), 200, { ok: true });
    assert.equal((await srv.getJob(id)).state, 'failed');
  });

  it('a due retry takes its place among the ready jobs by runAt (older ready jobs first)', async () => {
    const q = qname('bo');
    const a = await srv.push(q, { data: 'a', backoff: { type: 'fixed', delay: 300 } });
    const pa = await srv.pull(q);
    assert.equal(pa.job.id, a);
    assertAnswer(await srv.fail(a, { token: pa.token }), 200, { ok: true });
    const b = await srv.push(q, { data: 'b' }); // runAt before a's retry time
    await sleep(300 + SLACK_MS);
    const c = await srv.push(q, { data: 'c' }); // runAt after a's retry time
    assert.equal((await srv.getJob(a)).state, 'waiting');
    const order = [(await srv.pull(q)).job?.id, (await srv.pull(q)).job?.id, (await srv.pull(q)).job?.id];
    assert.deepEqual(order, [b, a, c]);
  });
});
