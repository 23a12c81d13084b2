// Restarts: the server rebuilds its state from the log.
// 1. kill -9 after a mixed workload: every job comes back identical, leases
//    survive (the worker can still ack), indexes (uniqueKey, jobId) too.
// 2. kill -9 while concurrent durable pushes are in flight: no answered push
//    lost, nothing duplicated, nothing completed handed out again.
// 3. SIGTERM: exit code 0, and even non-durable pushes answered just before
//    the stop are kept.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, pool, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

type View = Record<string, unknown> & { id: string; queue: string; state: string; attempts: number; maxAttempts: number };
/** id → view, or null for a job that GET answers 404. */
type Snapshot = Map<string, View | null>;

async function snapshot(srv: TestServer, ids: Iterable<string>): Promise<Snapshot> {
  const list = [...new Set(ids)];
  const views = await pool(list, 16, async (id) => {
    const r = await srv.getRaw(id);
    if (r.status === 404) {
      assert.deepEqual(r.json, { ok: false, error: 'Job not found' }, r.describe);
      return null;
    }
    assert.equal(r.status, 200, r.describe);
    return r.json.job as View;
  });
  return new Map(list.map((id, i) => [id, views[i] ?? null]));
}

/** Compares two snapshots field by field and fails listing every difference. */
function assertSameSnapshot(after: Snapshot, before: Snapshot, what: string) {
  const diffs: string[] = [];
  for (const [id, b] of before) {
    const a = after.get(id);
    if (b === null || a === null || a === undefined) {
      if ((b === null) !== (a === null || a === undefined)) {
        diffs.push(`${id}: before ${b === null ? '404' : b.state}, after ${a == null ? '404' : a.state}`);
      }
      continue;
    }
    const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
    for (const k of keys) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k]) && !deepEq(a[k], b[k])) {
        diffs.push(`${id} (${b.state}) .${k}: before ${JSON.stringify(b[k])}, after ${JSON.stringify(a[k])}`);
      }
    }
  }
  assert.equal(diffs.length, 0, `${what}: ${diffs.length} differences, first ones:\n${diffs.slice(0, 25).join('\n')}`);
}

function deepEq(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** Pulls a queue until empty; returns the jobs with their tokens. */
async function drain(srv: TestServer, q: string): Promise<Array<{ job: View; token: string }>> {
  const out: Array<{ job: View; token: string }> = [];
  for (;;) {
    const p = await srv.pull(q);
    if (!p.job) return out;
    out.push({ job: p.job as View, token: p.token as string });
    if (out.length > 5000) throw new Error('drain: runaway');
  }
}

describe('restart', () => {
  it('kill -9 after a mixed workload: every job identical after restart, leases kept', async () => {
    let srv = await startServer();
    const tag = qname('r');
    const queues = [qname('ra'), qname('rb'), qname('rc')];
    const N = 300;

    // ---- pushes: a mix of options ----
    const bodies = Array.from({ length: N }, (_, i) => {
      const body: Record<string, unknown> = {
        data: i % 7 === 0 ? { i, nested: { list: [i, 'x'.repeat(i % 40)], flag: i % 2 === 0 } } : { i },
      };
      if (i % 4 === 0) body.durable = true;
      if (i % 5 === 1) body.priority = (i % 11) - 5;
      if (i % 9 === 0) body.delay = 60_000; // still delayed after the restart
      if (i % 13 === 2) body.delay = 30; // comes due before the kill
      if (i % 8 === 3) body.uniqueKey = `uk-${i}`;
      if (i % 15 === 4) body.jobId = `${tag}-job-${i}`;
      if (i % 6 === 5) body.lifo = true;
      if (i % 10 === 7) body.tags = ['restart', `n${i}`];
      if (i % 3 === 0) body.maxAttempts = 1;
      else if (i % 3 === 2) body.maxAttempts = 2;
      body.backoff = i % 2 === 0 ? 60_000 : 0;
      if (i % 17 === 0) body.backoff = { type: 'fixed', delay: 45_000 };
      if (i % 11 === 0) body.removeOnComplete = true;
      if (i % 12 === 0) body.removeOnFail = true;
      if (i % 19 === 0) body.ttl = 3_600_000;
      if (i % 23 === 0) body.timeout = 600_000;
      return { queue: queues[i % queues.length] as string, body };
    });
    const ids = await pool(bodies, 16, ({ queue, body }) => srv.push(queue, body));
    assert.equal(new Set(ids).size, N, 'every push created its own job');
    bodies.forEach(({ body }, i) => {
      if (typeof body.jobId === 'string') assert.equal(ids[i], body.jobId);
    });

    // Duplicates create nothing.
    for (let i = 0; i < N; i++) {
      const { queue, body } = bodies[i]!;
      if (typeof body.uniqueKey === 'string' && i < 60) {
        assert.equal(await srv.push(queue, { data: 'dup', uniqueKey: body.uniqueKey }), ids[i], 'uniqueKey dedup');
      }
      if (typeof body.jobId === 'string') {
        assert.equal(await srv.push(queues[(i + 1) % 3]!, { data: 'dup', jobId: body.jobId }), ids[i], 'jobId dedup');
      }
    }
    await sleep(60); // the 30 ms delays come due

    // ---- pulls and their outcomes (a retried job may be pulled again: last fate wins) ----
    type Fate = { kind: 'active'; token: string } | { kind: 'acked'; result: unknown } | { kind: 'failed' } | { kind: 'cancelled' };
    const fate = new Map<string, Fate>();
    const fails = new Map<string, number>();
    let j = 0;
    for (const q of queues) {
      for (let k = 0; k < 45; k++) {
        const p = await srv.pull(q);
        assert.ok(p.job, `queue ${q} ran dry after ${k} pulls`);
        const id = p.job.id as string;
        const token = p.token as string;
        assert.equal(p.job.attempts, fails.get(id) ?? 0);
        switch (j++ % 4) {
          case 0: {
            const result = { ok: j, text: `result-${j}`, when: [j, null] };
            const r = await srv.ack(id, { token, result });
            assert.equal(r.status, 200, r.describe);
            fate.set(id, { kind: 'acked', result });
            break;
          }
          case 1: {
            const r = await srv.fail(id, { token, error: `error-${j}` });
            assert.equal(r.status, 200, r.describe);
            fate.set(id, { kind: 'failed' });
            fails.set(id, (fails.get(id) ?? 0) + 1);
            break;
          }
          case 2:
            fate.set(id, { kind: 'active', token });
            break;
          default:
            if (j % 8 === 0) {
              const r = await srv.cancel(id);
              assert.equal(r.status, 200, r.describe);
              fate.set(id, { kind: 'cancelled' });
            } else {
              const r = await srv.ack(id); // no body, no token
              assert.equal(r.status, 200, r.describe);
              fate.set(id, { kind: 'acked', result: null });
            }
        }
      }
    }
    // A second round: more jobs pulled (retried ones among them) and left active.
    for (const q of queues) {
      for (let k = 0; k < 5; k++) {
        const p = await srv.pull(q);
        if (p.job) fate.set(p.job.id, { kind: 'active', token: p.token as string });
      }
    }
    // Cancel some jobs that were never pulled (waiting or delayed).
    let cancelledUnpulled = 0;
    for (let i = 0; i < N && cancelledUnpulled < 8; i += 11) {
      const id = ids[i]!;
      if (fate.has(id)) continue;
      const r = await srv.cancel(id);
      assert.equal(r.status, 200, r.describe);
      fate.set(id, { kind: 'cancelled' });
      cancelledUnpulled++;
    }
    const active = new Map<string, string>();
    for (const [id, f] of fate) if (f.kind === 'active') active.set(id, f.token);
    const count = (kind: Fate['kind']) => [...fate.values()].filter((f) => f.kind === kind).length;
    assert.ok(active.size >= 20 && count('acked') >= 20 && count('failed') >= 20 && count('cancelled') >= 10, 'workload mix');

    // ---- the state before the crash, checked against the answers ----
    const before = await snapshot(srv, ids);
    for (const [id, view] of before) {
      const body = bodies[ids.indexOf(id)]!.body;
      const f = fate.get(id);
      const attempts = fails.get(id) ?? 0;
      if (view) assert.equal(view.attempts, attempts, `${id} attempts`);
      if (f?.kind === 'cancelled') {
        assert.equal(view, null, `cancelled ${id} still readable`);
      } else if (f?.kind === 'active') {
        assert.equal(view?.state, 'active', `${id} should be active`);
      } else if (f?.kind === 'acked') {
        if (body.removeOnComplete) assert.equal(view, null, `${id} removeOnComplete still readable`);
        else {
          assert.equal(view?.state, 'completed', `${id} should be completed`);
          assert.deepEqual(view?.result, f.result);
        }
      } else if (f?.kind === 'failed') {
        const dlq = attempts >= ((body.maxAttempts as number | undefined) ?? 3);
        if (dlq && body.removeOnFail) assert.equal(view, null, `${id} removeOnFail still readable`);
        else if (dlq) assert.equal(view?.state, 'failed', `${id} should be in the DLQ`);
        else assert.equal(view?.state, body.backoff === 0 ? 'waiting' : 'delayed', `${id} should be retrying`);
      } else {
        assert.ok(view, `${id} vanished`);
        assert.equal(view.state, body.delay === 60_000 ? 'delayed' : 'waiting', `${id} state`);
      }
    }

    // ---- crash and restart ----
    await sleep(100); // non-durable pushes reach disk within WAL_FLUSH_MS (10 ms)
    await srv.kill();
    srv = await srv.restart();

    const afterRestart = await snapshot(srv, ids);
    assertSameSnapshot(afterRestart, before, 'after kill -9 and restart');

    // Wrong tokens are still wrong; a pull hands out exactly the waiting jobs, never a leased one.
    const someActive = [...active.keys()].slice(0, 3);
    for (const id of someActive) {
      const r = await srv.ack(id, { token: 'forged-token' });
      assert.equal(r.status, 400, r.describe);
      assert.deepEqual(r.json, { ok: false, error: 'Invalid or expired lock token' });
    }
    const expectedWaiting = new Set([...before].filter(([, v]) => v?.state === 'waiting').map(([id]) => id));
    const drained = new Map<string, string>();
    for (const q of queues) {
      for (const { job, token } of await drain(srv, q)) {
        assert.ok(!drained.has(job.id), `${job.id} handed out twice`);
        drained.set(job.id, token);
      }
    }
    for (const id of drained.keys()) {
      assert.ok(!active.has(id), `leased job ${id} was handed out again after the restart`);
      assert.ok(expectedWaiting.has(id), `${id} was handed out but was ${before.get(id)?.state ?? 'not readable'} before the crash`);
    }
    assert.equal(drained.size, expectedWaiting.size, 'every waiting job is pullable after the restart');

    // The leases taken before the crash still work.
    let n = 0;
    for (const [id, token] of active) {
      if (n++ % 2 === 0) {
        const r = await srv.ack(id, { token, result: { afterRestart: true } });
        assert.equal(r.status, 200, r.describe);
        const v = await srv.getRaw(id);
        if (v.status === 200) {
          assert.equal(v.json.job.state, 'completed');
          assert.deepEqual(v.json.job.result, { afterRestart: true });
        } else assert.ok(bodies[ids.indexOf(id)]!.body.removeOnComplete, v.describe);
      } else {
        const r = await srv.fail(id, { token, error: 'after restart' });
        assert.equal(r.status, 200, r.describe);
        const v = await srv.getRaw(id);
        if (v.status === 200) {
          assert.equal(v.json.job.attempts, (before.get(id) as View).attempts + 1);
          assert.equal(v.json.job.error, 'after restart');
        }
      }
    }

    // The uniqueKey and jobId indexes were rebuilt.
    for (let i = 0; i < N; i++) {
      const { queue, body } = bodies[i]!;
      const id = ids[i]!;
      if (typeof body.jobId === 'string') {
        assert.equal(await srv.push(queue, { data: 'again', jobId: body.jobId }), id, 'jobId index lost in the restart');
      }
      if (typeof body.uniqueKey === 'string') {
        const state = before.get(id)?.state;
        const got = await srv.push(queue, { data: 'again', uniqueKey: body.uniqueKey, delay: 60_000 });
        if (state === 'waiting' || state === 'delayed') {
          assert.equal(got, id, `uniqueKey ${body.uniqueKey} of a ${state} job not held after the restart`);
        } else if (state === 'completed' || state === 'failed' || state === undefined) {
          assert.notEqual(got, id, `uniqueKey ${body.uniqueKey} of a ${state ?? 'removed'} job still held after the restart`);
        }
      }
    }
    const fresh = await srv.push(queues[0]!, { data: 'new after restart' });
    assert.ok(!ids.includes(fresh));

    // A second crash after more work replays the longer log just as well.
    const allIds = [...ids, fresh];
    const before2 = await snapshot(srv, allIds);
    await sleep(100);
    await srv.kill();
    srv = await srv.restart();
    assertSameSnapshot(await snapshot(srv, allIds), before2, 'after a second kill -9');
    await srv.kill();
  });

  it('kill -9 with concurrent durable pushes in flight: no answered push lost, nothing duplicated', async () => {
    // A long group-commit interval: only the durable wait can have put the last pushes on disk.
    let srv = await startServer({ env: { WAL_FLUSH_MS: '5000' } });
    const q = qname('crash');

    // Completed before the storm.
    const doneEarly = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const id = await srv.push(q, { data: { n: -1 - i }, durable: true });
      const p = await srv.pull(q);
      assert.equal(p.job?.id, id);
      const r = await srv.ack(id, { token: p.token, result: 'early' });
      assert.equal(r.status, 200, r.describe);
      doneEarly.add(id);
    }

    const TOTAL = 500;
    const CONCURRENCY = 50;
    const WORKERS_UNTIL = 100; // workers pull and ack until this many pushes were answered
    const KILL_AFTER = 250;
    const answered = new Map<number, string>(); // n → id
    const pulled = new Map<string, string>(); // id → token (answered pulls)
    const acked = new Set<string>(); // answered acks
    const unexpected: string[] = [];
    let crashed = false;
    let inFlight = 0;
    let inFlightAtCrash = 0;
    let next = 0;

    const crash = () => {
      if (crashed) return;
      crashed = true;
      inFlightAtCrash = inFlight;
      srv.killNow();
    };

    const pusher = async () => {
      while (!crashed && next < TOTAL) {
        const n = next++;
        inFlight++;
        try {
          const r = await srv.request('POST', `/queues/${q}/jobs`, { data: { n }, durable: true });
          if (r.status === 200 && typeof r.json?.id === 'string') {
            answered.set(n, r.json.id);
            if (answered.size >= KILL_AFTER) crash();
          } else if (!crashed) unexpected.push(r.describe);
        } catch (err) {
          if (!crashed) unexpected.push(String(err));
        } finally {
          inFlight--;
        }
      }
    };
    const worker = async () => {
      while (!crashed && answered.size < WORKERS_UNTIL) {
        try {
          const p = await srv.pull(q);
          if (!p.job) {
            await sleep(2);
            continue;
          }
          pulled.set(p.job.id, p.token as string);
          const r = await srv.ack(p.job.id, { token: p.token, result: 'worker' });
          if (r.status === 200) acked.add(p.job.id);
          else if (!crashed) unexpected.push(r.describe);
        } catch (err) {
          if (!crashed) unexpected.push(String(err));
        }
      }
    };
    await Promise.all([...Array.from({ length: CONCURRENCY }, pusher), worker(), worker()]);
    await srv.waitExit();
    assert.deepEqual(unexpected, [], 'errors before the crash');
    assert.ok(crashed, 'the crash happened');
    assert.ok(inFlightAtCrash > 0, 'requests were in flight at the crash');

    srv = await srv.restart();

    // Every answered durable push exists, with its data.
    const ids = [...answered.values()];
    assert.equal(new Set(ids).size, ids.length, 'two pushes got the same id');
    const views = await snapshot(srv, [...ids, ...doneEarly, ...pulled.keys()]);
    const lost = [...answered].filter(([, id]) => views.get(id) == null).map(([n]) => n);
    assert.deepEqual(lost, [], `answered durable pushes lost: ${lost.length}`);
    for (const [n, id] of answered) assert.deepEqual(views.get(id)?.data, { n });
    // Answered acks are never undone; answered pulls keep their lease or were completed.
    for (const id of [...doneEarly, ...acked]) assert.equal(views.get(id)?.state, 'completed', `${id} acked before the crash`);
    for (const id of pulled.keys()) {
      assert.ok(['active', 'completed'].includes(views.get(id)?.state as string), `${id} pulled before the crash is ${views.get(id)?.state}`);
    }

    // Pull everything: each job once, nothing completed or leased handed out.
    const drained = await drain(srv, q);
    const seenIds = new Set<string>();
    for (const { job } of drained) {
      assert.ok(!seenIds.has(job.id), `${job.id} handed out twice`);
      seenIds.add(job.id);
      assert.ok(!doneEarly.has(job.id) && !acked.has(job.id), `completed job ${job.id} handed out again`);
      assert.ok(!pulled.has(job.id), `job ${job.id} pulled before the crash handed out again`);
      const n = (job.data as { n: number }).n;
      assert.ok(Number.isInteger(n) && n >= 0 && n < TOTAL, `unexpected data ${JSON.stringify(job.data)}`);
      if (answered.has(n)) assert.equal(job.id, answered.get(n), `push #${n} came back under another id`);
    }
    assert.equal((await srv.pull(q)).job, null);

    // No push exists twice: every job we know of carries a distinct n.
    const byN = new Map<number, string>();
    const known = new Map<string, View>();
    for (const [id, v] of views) if (v) known.set(id, v);
    for (const { job } of drained) known.set(job.id, job);
    for (const [id, v] of known) {
      const n = (v.data as { n: number }).n;
      assert.ok(!byN.has(n) || byN.get(n) === id, `push #${n} exists twice: ${byN.get(n)} and ${id}`);
      byN.set(n, id);
    }

    // Each answered push is accounted for once: pulled before the crash, or pulled now, or leased by a
    // pull that was in flight at the crash (at most one per worker).
    const unaccounted: string[] = [];
    for (const [n, id] of answered) {
      const before = pulled.has(id);
      const now = seenIds.has(id);
      assert.ok(!(before && now), `push #${n} (${id}) pulled both before and after the crash`);
      if (!before && !now) unaccounted.push(id);
    }
    for (const id of unaccounted) {
      assert.equal(views.get(id)?.state, 'active', `${id} neither pulled before nor after the crash, state ${views.get(id)?.state}`);
    }
    assert.ok(unaccounted.length <= 2, `${unaccounted.length} jobs leased by pulls nobody received (2 workers)`);
    await srv.kill();
  });

  it('SIGTERM: exit code 0, then everything is back, even non-durable pushes answered just before', async () => {
    // A long flush interval: only an orderly shutdown gets the last pushes to disk.
    let srv = await startServer({ env: { WAL_FLUSH_MS: '1000' } });
    const q = qname('stop');
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await srv.push(q, { data: { i }, priority: i % 3, backoff: 60_000 }));
    const leases = new Map<string, string>();
    for (let k = 0; k < 10; k++) {
      const p = await srv.pull(q);
      assert.ok(p.job);
      if (k < 4) assert.equal((await srv.ack(p.job.id, { token: p.token, result: { k } })).status, 200);
      else if (k < 6) assert.equal((await srv.fail(p.job.id, { token: p.token, error: `e${k}` })).status, 200);
      else leases.set(p.job.id, p.token as string);
    }
    assert.equal((await srv.cancel(ids[39]!)).status, 200);
    const before = await snapshot(srv, ids);

    // The last pushes, answered right before the stop, plus a long-poll in progress.
    const idle = qname('stop-idle');
    const longPoll = srv.pull(idle, 30_000).then(
      (r) => r.job,
      () => 'closed',
    );
    await sleep(50);
    const lastBodies = Array.from({ length: 20 }, (_, i) => ({ data: { last: i }, tags: ['last'] }));
    const lastIds = await Promise.all(lastBodies.map((b) => srv.push(q, b)));
    const t0 = Date.now();
    const code = await srv.stop(8000);
    const stopMs = Date.now() - t0;
    assert.equal(code, 0, `exit code after SIGTERM\n${srv.output()}`);
    assert.ok(stopMs < 5000, `shutdown took ${stopMs} ms with a long-poll open`);
    const lp = await longPoll;
    assert.ok(lp === null || lp === 'closed', `the pending long-poll got ${JSON.stringify(lp)}`);

    srv = await srv.restart();
    assertSameSnapshot(await snapshot(srv, ids), before, 'after SIGTERM and restart');
    for (let i = 0; i < lastIds.length; i++) {
      const r = await srv.getRaw(lastIds[i]!);
      assert.equal(r.status, 200, `non-durable push answered before SIGTERM lost: ${r.describe}`);
      assert.deepEqual(r.json.job.data, { last: i });
      assert.equal(r.json.job.state, 'waiting');
    }
    for (const [id, token] of leases) {
      const r = await srv.ack(id, { token, result: 'after stop' });
      assert.equal(r.status, 200, r.describe);
    }
    assert.equal(await srv.stop(8000), 0, 'second clean stop');
  });
});
