// Timers across kill -9 and a restart on the same data dir: deadlines come
// from the log, not from the restart time.
// - delays, retry backoffs and ttls fire at their original time (work that
//   fell due during the downtime is decided at startup);
// - a lease survives (the token still acks); one that runs out while the
//   server is down stalls once at startup, one that outlives the downtime
//   stalls at its original deadline; exactly once across further restarts;
// - a repeat chain continues: one occurrence for the missed slots, no burst;
// - waiting-children jobs stay so and are released / failed after restart.
// Pushes are durable, and we wait 60 ms before each kill so that timer
// decisions (flushed with the next group commit) are on disk.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';
import {
  assertAnswer,
  assertBetween,
  assertHappenedBetween,
  assertOnTime,
  BAD_TOKEN,
  drainQueue,
  NOT_ACTIVE,
  observeState,
  progress,
  pullWithin,
  SLACK_MS,
} from '../support/lifecycle.ts';

after(async () => {
  await cleanupAll();
});

const STALLED = 'lease expired (job stalled)';
const FIXED_60S = { type: 'fixed', delay: 60_000 };
const FLUSH_WAIT_MS = 60;

async function crashAndRestart(srv: TestServer, downMs = 0): Promise<TestServer> {
  await sleep(FLUSH_WAIT_MS);
  await srv.kill();
  if (downMs > 0) await sleep(downMs);
  return srv.restart();
}

describe('timers after kill -9', () => {
  it('delays, retry backoffs and ttls keep their original deadlines across a restart', async () => {
    let srv = await startServer();
    const q = qname('rs-delay');
    const qt = qname('rs-ttl');
    const DUE_LATE = 3000;
    const late = await srv.push(q, { data: 'late', delay: DUE_LATE, durable: true });
    const early = await srv.push(q, { data: 'early', delay: 400, durable: true, priority: 5 });
    const retried = await srv.push(q, { data: 'retry', backoff: { type: 'fixed', delay: DUE_LATE }, durable: true, priority: -1 });
    const ttlShort = await srv.push(qt, { data: 'ttl short', ttl: 300, durable: true });
    const ttlLong = await srv.push(qt, { data: 'ttl long', ttl: 2300, durable: true });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, retried, 'only the non-delayed job is ready');
    assertAnswer(await srv.fail(retried, { token: p.token, error: 'first' }), 200, { ok: true });
    const before = new Map<string, any>();
    for (const id of [late, early, retried, ttlShort, ttlLong]) before.set(id, await srv.getJob(id));
    assert.equal(before.get(retried).state, 'delayed');

    srv = await crashAndRestart(srv, Math.max(0, before.get(early).runAt + 50 - Date.now()));
    const restartedAt = Date.now();
    // On a badly overloaded machine the restart may outlast the later deadlines too;
    // then those jobs are checked like the ones that fell due during the downtime.
    const stillAhead = (deadline: number) => restartedAt + 300 < deadline;

    // Due during the downtime: ready at once, with its original runAt.
    const e = await srv.pull(q);
    assert.equal(e.job?.id, early, `the job due during the downtime is not ready after the restart: ${e.res.describe}`);
    assert.equal(e.job.runAt, before.get(early).runAt);
    // ttl passed during the downtime: expired at startup.
    const ts = await observeState(srv, ttlShort, 'failed', 1000);
    assert.equal(ts.view.error, 'ttl expired');

    const tl = before.get(ttlLong);
    const lateRunAt = Math.max(before.get(late).runAt, before.get(retried).runAt);
    if (stillAhead(lateRunAt)) {
      // Not due yet: still delayed, same runAt, not pullable.
      for (const id of [late, retried]) {
        const v = await srv.getJob(id);
        assert.equal(v.state, 'delayed', `${id} after restart`);
        assert.equal(v.runAt, before.get(id).runAt, 'runAt changed by the restart');
      }
      assert.equal((await srv.pull(q)).job, null);
    }
    // The ttl still pending expires at createdAt + ttl, not restart + ttl.
    const o = await observeState(srv, ttlLong, 'failed', 4000);
    assert.equal(o.view.error, 'ttl expired');
    if (stillAhead(tl.createdAt + 2300)) assertHappenedBetween(o, tl.createdAt + 2300, tl.createdAt + 2300 + SLACK_MS, 'ttl after restart');
    // The delayed job and the retry come due at their original runAt (or at once, if that passed during the restart).
    const got = [await pullWithin(srv, q, 4000, 'first due'), await pullWithin(srv, q, 2000, 'second due')];
    assert.deepEqual(got.map((g) => g.job.id).sort(), [late, retried].sort());
    for (const g of got) {
      assert.equal(g.job.runAt, before.get(g.job.id).runAt, 'runAt changed by the restart');
      if (stillAhead(lateRunAt)) assertOnTime(g.job, `${g.job.data} after restart`);
      else assert.ok(g.job.startedAt >= g.job.runAt, 'handed out before its runAt');
    }
    assert.equal(got.find((g) => g.job.id === retried)!.job.attempts, 1);
    await srv.kill();
  });

  it('a lease survives kill -9: the job stays active, is not handed out again, and its token acks or fails', async () => {
    let srv = await startServer();
    const q = qname('rs-lease');
    const a = await srv.push(q, { data: 'a', durable: true });
    const b = await srv.push(q, { data: 'b', durable: true, backoff: FIXED_60S });
    const pa = await srv.pull(q);
    const pb = await srv.pull(q);
    assert.deepEqual([pa.job?.id, pb.job?.id], [a, b]);
    assertAnswer(await progress(srv, a, { progress: 30, token: pa.token }), 200, { ok: true });
    srv = await crashAndRestart(srv);
    for (const [id, p] of [[a, pa], [b, pb]] as const) {
      const v = await srv.getJob(id);
      assert.equal(v.state, 'active');
      assert.equal(v.startedAt, p.job.startedAt);
      assert.equal(v.attempts, 0);
    }
    assert.equal((await srv.pull(q)).job, null, 'a leased job was handed out again');
    assertAnswer(await srv.ack(a, { token: 'forged' }), 400, BAD_TOKEN);
    assertAnswer(await srv.ack(a, { token: pa.token, result: 'after restart' }), 200, { ok: true });
    assertAnswer(await srv.fail(b, { token: pb.token, error: 'after restart' }), 200, { ok: true });
    const va = await srv.getJob(a);
    assert.deepEqual([va.state, va.result, va.progress], ['completed', 'after restart', 100]);
    const vb = await srv.getJob(b);
    assert.deepEqual([vb.state, vb.attempts, vb.error], ['delayed', 1, 'after restart']);
    await srv.kill();
  });

  it('LOCK_TTL_MS=1500: a lease alive at restart stalls at its original deadline; one that ran out while down stalls once at startup; not again after another restart', async () => {
    const TTL = 1500;
    let srv = await startServer({ env: { LOCK_TTL_MS: String(TTL) } });
    const q = qname('rs-stall');

    // A: its lease outlives the downtime.
    const a = await srv.push(q, { data: 'a', durable: true, backoff: FIXED_60S });
    const pa = await srv.pull(q);
    assert.equal(pa.job?.id, a);
    srv = await crashAndRestart(srv);
    const va = await srv.getJob(a);
    const upInTime = Date.now() < pa.job.startedAt + TTL - 50; // false only on a badly overloaded machine
    if (upInTime) assert.equal(va.state, 'active', 'lease ended by the restart itself');
    const oa = await observeState(srv, a, 'delayed', 4000);
    assert.equal(oa.view.attempts, 1);
    assert.equal(oa.view.error, STALLED);
    const stalledAfter = oa.view.runAt - 60_000 - pa.job.startedAt;
    if (upInTime) assertBetween(stalledAfter, TTL, TTL + SLACK_MS, 'A stalled at startedAt + LOCK_TTL_MS, not restart + LOCK_TTL_MS');
    else assert.ok(stalledAfter >= TTL, `A stalled ${stalledAfter} ms after its pull, before its lease ended`);

    // C: its lease runs out while the server is down. D: same, backoff 0 and maxAttempts 1 → DLQ.
    // E: a `timeout` attempt that runs out while down.
    const c = await srv.push(q, { data: 'c', durable: true, backoff: FIXED_60S });
    const d = await srv.push(q, { data: 'd', durable: true, maxAttempts: 1 });
    const e = await srv.push(q, { data: 'e', durable: true, timeout: 300, backoff: FIXED_60S });
    const pulled = [await srv.pull(q), await srv.pull(q), await srv.pull(q)];
    assert.deepEqual(pulled.map((p) => p.job?.id), [c, d, e]);
    const [pc, , pe] = pulled;
    srv = await crashAndRestart(srv, TTL + 100);
    const vc = (await observeState(srv, c, 'delayed', 2000)).view;
    assert.equal(vc.attempts, 1);
    assert.equal(vc.error, STALLED);
    assert.ok(vc.runAt - 60_000 >= pc!.job.startedAt + TTL, 'stalled before its lease ended');
    const vd = (await observeState(srv, d, 'failed', 2000)).view;
    assert.equal(vd.attempts, 1);
    assert.equal(vd.error, STALLED);
    const ve = (await observeState(srv, e, 'delayed', 2000)).view;
    assert.equal(ve.attempts, 1);
    assert.equal(ve.error, 'timeout exceeded');
    assert.ok(ve.runAt - 60_000 >= pe!.job.startedAt + 300);
    assertAnswer(await srv.ack(c, { token: pc!.token }), 400, NOT_ACTIVE);
    assert.equal((await srv.pull(q)).job, null);

    // Another crash: nothing is counted again.
    const snapshot = new Map<string, any>();
    for (const id of [a, c, d, e]) snapshot.set(id, await srv.getJob(id));
    for (let round = 1; round <= 1; round++) {
      srv = await crashAndRestart(srv);
      await sleep(100); // give startup timers a chance to (wrongly) act again
      for (const id of [a, c, d, e]) {
        const v = await srv.getJob(id);
        const b = snapshot.get(id);
        assert.equal(v.attempts, 1, `restart ${round}: ${b.data} attempts ${v.attempts}`);
        assert.equal(v.state, b.state, `restart ${round}: ${b.data} state`);
        assert.equal(v.runAt, b.runAt, `restart ${round}: ${b.data} retry time re-decided`);
        assert.equal(v.error, b.error);
      }
    }
    await srv.kill();
  });

  it('a repeat chain continues after a restart: one occurrence for the missed slots, then on schedule', async () => {
    const every = 300;
    let srv = await startServer();
    const q = qname('rs-rep');
    const first = await srv.push(q, { data: 'tick', repeat: { every }, durable: true });
    const p1 = await srv.pull(q);
    assert.equal(p1.job?.id, first);
    const r0 = p1.job.runAt as number;
    assertAnswer(await srv.ack(first, { token: p1.token }), 200, { ok: true });
    // Down for several slots.
    srv = await crashAndRestart(srv, 2 * every);
    assert.equal((await srv.getJob(first)).state, 'completed');
    const ready = await drainQueue(srv, q);
    assert.equal(ready.length, 1, `after the restart ${ready.length} occurrences were ready: ${ready.map((r) => r.job.runAt - r0).join(', ')}`);
    const second = ready[0]!;
    assert.notEqual(second.job.id, first);
    assert.equal((second.job.runAt - r0) % every, 0, 'the occurrence is not on a slot of the chain');
    assertAnswer(await srv.ack(second.job.id, { token: second.token }), 200, { ok: true });
    const end2 = (await srv.getJob(second.job.id)).completedAt as number;
    // The next one is on the first free slot and on time.
    const third = await pullWithin(srv, q, 2000, 'third occurrence');
    assert.equal((third.job.runAt - r0) % every, 0);
    assert.ok(third.job.runAt > end2 && third.job.runAt - every <= end2, `third runAt ${third.job.runAt - r0}, second ended at ${end2 - r0}`);
    assertOnTime(third.job, 'third occurrence');
    // Crash while the third occurrence is active: its lease survives, and acking it continues the chain.
    srv = await crashAndRestart(srv);
    assert.equal((await srv.pull(q)).job, null, 'an occurrence appeared while one was active');
    assertAnswer(await srv.ack(third.job.id, { token: third.token }), 200, { ok: true });
    const fourth = await pullWithin(srv, q, 2000, 'fourth occurrence');
    assert.ok(![first, second.job.id, third.job.id].includes(fourth.job.id));
    assertOnTime(fourth.job, 'fourth occurrence');
    assert.equal((await srv.pull(q)).job, null, 'more than one occurrence ready');
    assertAnswer(await srv.cancel(fourth.job.id), 200, { ok: true });
    await srv.kill();
  });

  it('waiting-children jobs stay so after a restart; dependencies finished after it release or fail them', async () => {
    let srv = await startServer();
    const q = qname('rs-dep');
    const qc = qname('rs-dep-children');
    const p1 = await srv.push(q, { data: 'p1', durable: true });
    const p2 = await srv.push(q, { data: 'p2', durable: true, maxAttempts: 1 });
    const pActive = await srv.push(q, { data: 'p3', durable: true, priority: 10 });
    const c1 = await srv.push(qc, { data: 'c1', dependsOn: [p1], durable: true });
    const c2 = await srv.push(qc, { data: 'c2', dependsOn: [p2], durable: true });
    const c3 = await srv.push(qc, { data: 'c3', dependsOn: [pActive, p1], durable: true });
    const lease = await srv.pull(q);
    assert.equal(lease.job?.id, pActive);
    srv = await crashAndRestart(srv);
    for (const id of [c1, c2, c3]) assert.equal((await srv.getJob(id)).state, 'waiting-children');
    assert.equal((await srv.pull(qc)).job, null);
    // The lease from before the crash completes its job.
    assertAnswer(await srv.ack(pActive, { token: lease.token }), 200, { ok: true });
    assert.equal((await srv.getJob(c3)).state, 'waiting-children', 'c3 still waits for p1');
    const a = await srv.pull(q);
    assert.equal(a.job?.id, p1);
    assertAnswer(await srv.ack(p1, { token: a.token }), 200, { ok: true });
    assert.equal((await srv.getJob(c1)).state, 'waiting');
    assert.equal((await srv.getJob(c3)).state, 'waiting');
    const b = await srv.pull(q);
    assert.equal(b.job?.id, p2);
    assertAnswer(await srv.fail(p2, { token: b.token, error: 'fatal' }), 200, { ok: true });
    const v2 = await srv.getJob(c2);
    assert.deepEqual([v2.state, v2.error], ['failed', `dependency failed: ${p2}`]);
    // And all of that survives another crash.
    srv = await crashAndRestart(srv);
    assert.deepEqual(
      [(await srv.getJob(c1)).state, (await srv.getJob(c2)).state, (await srv.getJob(c3)).state],
      ['waiting', 'failed', 'waiting'],
    );
    const ids = (await drainQueue(srv, qc)).map((r) => r.job.id).sort();
    assert.deepEqual(ids, [c1, c3].sort());
    await srv.kill();
  });
});
