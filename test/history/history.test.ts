// GET /jobs/:id/history and /attempts over HTTP: a job's whole life from the
// log (push, pull, fail, retry, stall, timeout, release on WebSocket close,
// progress, completion), removed and evicted jobs, reused ids, pagination
// and bad input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { observe, progress } from '../support/lifecycle.ts';
import { cleanupAll, qname, sleep, startServer, type TestServer, waitFor } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

let srv: TestServer;

before(async () => {
  // Leases of 1.5 s: a stall happens within the test, an active lease outlives a few requests.
  srv = await startServer({ env: { LOCK_TTL_MS: '1500' } });
});
after(async () => {
  await cleanupAll();
});

async function history(id: string, query = ''): Promise<any> {
  const r = await srv.request('GET', `/jobs/${encodeURIComponent(id)}/history${query}`);
  assert.equal(r.status, 200, r.describe);
  assert.equal(r.json.ok, true, r.describe);
  assert.equal(r.json.jobId, id);
  return r.json;
}

async function attempts(id: string): Promise<any[]> {
  const r = await srv.request('GET', `/jobs/${encodeURIComponent(id)}/attempts`);
  assert.equal(r.status, 200, r.describe);
  return r.json.attempts;
}

/** Entry types without the scheduler's `promote` of a retry coming due (its timing varies). */
const typesOf = (entries: any[]) => entries.map((e) => e.type).filter((t) => t !== 'promote');

describe('job history and attempts', () => {
  it('follow a job through fail, retry, stall, release on WebSocket close, progress and completion', async () => {
    const q = qname('life');
    const id = await srv.push(q, { data: { n: 1 }, maxAttempts: 10, backoff: 0 });
    // Attempt 1: the worker fails it.
    const a1 = await srv.pull(q);
    assert.equal(a1.job.id, id);
    assert.equal((await srv.fail(id, { token: a1.token, error: 'boom' })).status, 200);
    // Attempt 2: the lease expires (stall).
    const a2 = (await waitFor(async () => {
      const p = await srv.pull(q);
      return p.job ? p : null;
    }))!;
    await observe(srv, id, (v) => v?.state !== 'active', 'stall', 3000);
    // Attempt 3: pulled over a WebSocket that then drops.
    const ws = await WsTestClient.connect(srv.port, '/ws');
    const a3 = await waitFor(async () => {
      const p = await ws.request({ cmd: 'PULL', queue: q });
      return p.job ? p : null;
    });
    assert.equal(a3.job.id, id);
    ws.terminate();
    await observe(srv, id, (v) => v?.state === 'waiting', 'release', 3000);
    // Attempt 4: progress, then completion.
    const a4 = await srv.pull(q);
    assert.equal(a4.job.id, id);
    assert.equal((await progress(srv, id, { token: a4.token, progress: 40, message: 'half' })).status, 200);
    assert.equal((await srv.ack(id, { token: a4.token, result: { sent: true } })).status, 200);

    const h = await history(id);
    assert.deepEqual(typesOf(h.entries), ['push', 'pull', 'fail', 'pull', 'fail', 'pull', 'release', 'pull', 'progress', 'ack']);
    assert.equal(h.nextCursor, null);
    assert.equal(h.truncatedBefore, undefined);
    const positions = h.entries.map((e: any) => e.position);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'oldest first');
    for (const e of h.entries) {
      assert.equal(typeof e.time, 'number');
      assert.ok('actor' in e, 'every entry says who did it');
      assert.equal(e.jobId, undefined);
    }
    const [push, pull1, fail1, pull2, stall, pull3, release, pull4, prog, ack] = h.entries.filter((e: any) => e.type !== 'promote');
    assert.equal(push.job.id, id);
    assert.deepEqual(push.job.data, { n: 1 });
    assert.equal(push.queue, q);
    assert.equal(pull1.token, a1.token);
    assert.equal(typeof pull1.leaseUntil, 'number');
    assert.deepEqual([fail1.cause, fail1.error, fail1.attempts, typeof fail1.retryAt], ['error', 'boom', 1, 'number']);
    assert.equal(pull2.token, a2.token);
    assert.deepEqual([stall.cause, stall.attempts, stall.prev], ['stalled', 2, 'active']);
    assert.equal(release.token, pull3.token);
    assert.equal(pull4.token, a4.token);
    assert.deepEqual([prog.progress, prog.message], [40, 'half']);
    assert.deepEqual(ack.result, { sent: true });

    const list = await attempts(id);
    assert.deepEqual(
      list.map((a) => [a.number, a.outcome, a.error]),
      [
        [1, 'failed', 'boom'],
        [2, 'stalled', 'lease expired (job stalled)'],
        [3, 'released', null],
        [4, 'completed', null],
      ],
    );
    assert.deepEqual(list.map((a) => a.token), [a1.token, a2.token, pull3.token, a4.token]);
    for (const a of list) {
      assert.equal(a.pushPosition, push.position);
      assert.ok(a.endedAt >= a.startedAt);
      assert.equal(a.overlapped, false, 'leases never overlap under fencing tokens');
      assert.ok('pulledBy' in a);
    }
    assert.equal(list[3].leaseUntil, prog.leaseUntil, 'progress renewed the lease');
  });

  it('a job\'s `timeout` ends each attempt as `timeout`', async () => {
    const q = qname('to');
    const id = await srv.push(q, { data: 1, timeout: 150, maxAttempts: 2, backoff: 0 });
    await srv.pull(q);
    await observe(srv, id, (v) => v?.state === 'waiting', 'first timeout', 3000);
    assert.equal((await srv.pull(q)).job.id, id);
    await observe(srv, id, (v) => v?.state === 'failed', 'second timeout', 3000);
    const list = await attempts(id);
    assert.deepEqual(list.map((a) => [a.number, a.outcome, a.error]), [
      [1, 'timeout', 'timeout exceeded'],
      [2, 'timeout', 'timeout exceeded'],
    ]);
    const h = await history(id);
    assert.deepEqual(h.entries.filter((e: any) => e.type === 'fail').map((e: any) => [e.cause, e.retryAt === null]), [
      ['timeout', false],
      ['timeout', true],
    ]);
  });

  it('a removeOnComplete job keeps its history after it left the state; a reused id shows every job that had it', async () => {
    const q = qname('roc');
    const id = `reused-${q}`;
    assert.equal(await srv.push(q, { data: 'first', jobId: id, removeOnComplete: true }), id);
    assert.equal(await srv.push(q, { data: 'again', jobId: id }), id, 'a duplicate while the first is there');
    const first = await srv.pull(q);
    assert.equal((await srv.ack(id, { token: first.token, result: 1 })).status, 200);
    assert.equal((await srv.getRaw(id)).status, 404, 'removed from the state');
    assert.equal(await srv.push(q, { data: 'second', jobId: id }), id);
    await srv.cancel(id);
    const h = await history(id);
    assert.deepEqual(typesOf(h.entries), ['push', 'duplicate', 'pull', 'ack', 'push', 'cancel']);
    assert.equal(h.entries[3].remove, true);
    assert.deepEqual([h.entries[0].job.data, h.entries[4].job.data], ['first', 'second']);
    assert.equal(h.entries[5].prev, 'waiting');
    const list = await attempts(id);
    assert.deepEqual(list.map((a) => [a.number, a.outcome, a.pushPosition]), [[1, 'completed', h.entries[0].position]]);
  });

  it('a cancelled attempt whose worker was never told overlaps the next job pulled under its id: why it ran twice', async () => {
    const q = qname('ovl');
    const id = `ovl-${q}`;
    await srv.push(q, { data: 1, jobId: id });
    await srv.pull(q);
    assert.equal((await srv.cancel(id)).status, 200);
    await srv.push(q, { data: 2, jobId: id });
    const second = await srv.pull(q);
    assert.equal(second.job.id, id);
    const list = await attempts(id);
    assert.deepEqual(list.map((a) => [a.number, a.outcome, a.overlapped, a.endedAt === null]), [
      [1, 'cancelled', true, false],
      [1, 'active', true, true],
    ]);
    assert.ok(list[1].pushPosition > list[0].pushPosition, 'two jobs had the id');
  });

  it('pages with limit and cursor; bad input is a 400; an id the log never saw is a 404', async () => {
    const q = qname('page');
    const id = await srv.push(q, { data: 'p' });
    const { token } = await srv.pull(q);
    for (let i = 1; i <= 23; i++) assert.equal((await progress(srv, id, { token, progress: i })).status, 200);
    await srv.ack(id, { token });
    const whole = (await history(id)).entries;
    assert.equal(whole.length, 26);
    const pages: any[][] = [];
    let cursor: string | null = null;
    do {
      const page: any = await history(id, `?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(page.entries);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 6]);
    assert.deepEqual(pages.flat(), whole);
    for (const query of ['?limit=0', '?limit=1001', '?limit=abc', '?limit=1&limit=2', '?cursor=x', '?cursor=-1', '?cursor=0']) {
      const r = await srv.request('GET', `/jobs/${id}/history${query}`);
      assert.equal(r.status, 400, r.describe);
      assert.equal(r.json.ok, false);
    }
    assert.equal((await history(id, '?limit=1000')).entries.length, 26);
    for (const path of ['/jobs/never-seen/history', '/jobs/never-seen/attempts']) {
      const r = await srv.request('GET', path);
      assert.equal(r.status, 404, r.describe);
      assert.deepEqual(r.json, { ok: false, error: 'Job not found' });
    }
  });
});

describe('job history of evicted jobs', () => {
  let small: TestServer;
  before(async () => {
    small = await startServer({ env: { COMPLETED_MAX: '0', DLQ_MAX: '0' } });
  });

  it('an evicted job, completed or failed, still has its whole history, ending with the eviction', async () => {
    const q = qname('ev');
    const done = await small.push(q, { data: 'd' });
    const p = await small.pull(q);
    await small.ack(done, { token: p.token, result: 'ok' });
    const dead = await small.push(q, { data: 'x', maxAttempts: 1 });
    const p2 = await small.pull(q);
    await small.fail(dead, { token: p2.token, error: 'fatal' });
    for (const id of [done, dead]) await waitFor(async () => (await small.getRaw(id)).status === 404, 3000);
    // The eviction is an entry like any other, indexed under every job it names.
    await sleep(300);
    const r1 = await small.request('GET', `/jobs/${done}/history`);
    assert.deepEqual(r1.json.entries.map((e: any) => e.type), ['push', 'pull', 'ack', 'evict'], r1.describe);
    assert.equal(r1.json.entries[3].jobIds, undefined, 'an eviction does not list the other jobs');
    const r2 = await small.request('GET', `/jobs/${dead}/history`);
    assert.deepEqual(r2.json.entries.map((e: any) => e.type), ['push', 'pull', 'fail', 'evict'], r2.describe);
    const r3 = await small.request('GET', `/jobs/${dead}/attempts`);
    assert.deepEqual(r3.json.attempts.map((a: any) => [a.outcome, a.error]), [['failed', 'fatal']]);
  });
});

describe('job history auth', () => {
  it('needs the same token as the job endpoints', async () => {
    const server = await startServer({ env: { AUTH_TOKENS: 'sesame' } });
    for (const path of ['/jobs/x/history', '/jobs/x/attempts']) {
      const refused = await server.request('GET', path);
      assert.equal(refused.status, 401, refused.describe);
      const allowed = await server.request('GET', path, undefined, { authorization: 'Bearer sesame' });
      assert.equal(allowed.status, 404, allowed.describe);
    }
    await server.stop();
  });
});
