// WebSocket: /ws and /ws/queues/:queue — commands, broadcasts, auth at the handshake, ownership of pulled jobs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SseClient } from '../support/sseClient.ts';
import { cleanupAll, qname, sleep, startServer, type TestServer, UUID_V7 } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

describe('WebSocket commands', () => {
  let srv: TestServer;
  let ws: WsTestClient;
  before(async () => {
    srv = await startServer();
    ws = await WsTestClient.connect(srv.port, '/ws');
  });
  after(() => ws.close());

  it('PUSH answers {ok, id, reqId} and takes every push option; errors name the field', async () => {
    const q = qname('push');
    const ok = await ws.request({ cmd: 'PUSH', queue: q, data: { to: 'x' }, priority: 5, tags: ['t'], reqId: 'req-1' });
    assert.deepEqual(Object.keys(ok), ['ok', 'id', 'reqId']);
    assert.equal(ok.ok, true);
    assert.equal(ok.reqId, 'req-1');
    assert.match(ok.id, UUID_V7);
    const job = await srv.getJob(ok.id);
    assert.equal(job.priority, 5);
    assert.deepEqual(job.tags, ['t']);
    assert.equal(job.queue, q);
    const durable = await ws.request({ cmd: 'PUSH', queue: q, data: 1, durable: true, jobId: `${q}-custom` });
    assert.deepEqual(durable, { ok: true, id: `${q}-custom`, reqId: durable.reqId });
    const dup = await ws.request({ cmd: 'PUSH', queue: q, data: 2, jobId: `${q}-custom` });
    assert.equal(dup.id, `${q}-custom`, 'duplicate jobId answers the existing id');
    for (const [command, error] of [
      [{ cmd: 'PUSH', data: 1 }, 'queue is required'],
      [{ cmd: 'PUSH', queue: 'bad name', data: 1 }, /queue name/],
      [{ cmd: 'PUSH', queue: q }, 'data is required'],
      [{ cmd: 'PUSH', queue: q, data: 1, priority: 'high' }, 'priority must be a finite number'],
      [{ cmd: 'PUSH', queue: q, data: 1, dependsOn: ['missing-dep'] }, 'Dependency job not found: missing-dep'],
    ] as const) {
      const answer = await ws.request(command);
      assert.equal(answer.ok, false, JSON.stringify(command));
      if (typeof error === 'string') assert.equal(answer.error, error);
      else assert.match(answer.error, error);
      assert.ok(typeof answer.reqId === 'string');
    }
  });

  it('PULL answers {ok, job, token}, or job null; long-polls with timeout', async () => {
    const q = qname('pull');
    assert.deepEqual(await ws.request({ cmd: 'PULL', queue: q, reqId: 7 }), { ok: true, job: null, token: null, reqId: 7 });
    const id = await srv.push(q, { data: { n: 1 } });
    const pulled = await ws.request({ cmd: 'PULL', queue: q });
    assert.equal(pulled.ok, true);
    assert.equal(pulled.job.id, id);
    assert.equal(pulled.job.state, 'active');
    assert.deepEqual(pulled.job.data, { n: 1 });
    assert.match(pulled.token, UUID_V7);
    // Long poll: a push from elsewhere wakes it.
    const started = Date.now();
    const waiting = ws.request({ cmd: 'PULL', queue: q, timeout: 5000 });
    await sleep(100);
    const later = await srv.push(q, { data: 2 });
    const woken = await waiting;
    assert.equal(woken.job.id, later);
    assert.ok(Date.now() - started < 4000);
    const empty = await ws.request({ cmd: 'PULL', queue: q, timeout: 50 });
    assert.equal(empty.job, null);
    for (const timeout of [-1, 1.5, 'soon']) {
      const answer = await ws.request({ cmd: 'PULL', queue: q, timeout });
      assert.deepEqual([answer.ok, answer.error], [false, 'timeout must be an integer >= 0 (ms)']);
    }
  });

  it('ACK / FAIL check the lease like HTTP: token optional, a wrong one refused, a job not active refused', async () => {
    const q = qname('ackfail');
    const a = await srv.push(q, { data: 1 });
    const b = await srv.push(q, { data: 2, maxAttempts: 1 });
    const pa = await ws.request({ cmd: 'PULL', queue: q });
    const pb = await ws.request({ cmd: 'PULL', queue: q });
    assert.deepEqual(
      await ws.request({ cmd: 'ACK', id: a, token: 'wrong', reqId: 'x' }),
      { ok: false, error: 'Invalid or expired lock token', reqId: 'x' },
    );
    assert.deepEqual(await ws.request({ cmd: 'ACK', id: a, token: pa.token, result: { sent: true }, reqId: 'y' }), { ok: true, reqId: 'y' });
    const done = await srv.getJob(a);
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.result, { sent: true });
    assert.equal((await ws.request({ cmd: 'ACK', id: a })).error, 'Job not found or not active');
    assert.equal((await ws.request({ cmd: 'FAIL', id: b, error: 7 })).error, 'error must be a string');
    assert.equal((await ws.request({ cmd: 'FAIL', id: b, token: pb.token, error: 'Timeout' })).ok, true);
    const failed = await srv.getJob(b);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error, 'Timeout');
    assert.equal((await ws.request({ cmd: 'FAIL', id: b })).error, 'Job not found or not active');
    assert.equal((await ws.request({ cmd: 'ACK' })).error, 'id must be a non-empty string');
  });

  it('GetJob, Cancel, Progress, Heartbeat and Ping', async () => {
    const q = qname('misc');
    const id = await srv.push(q, { data: 'x' });
    const got = await ws.request({ cmd: 'GetJob', id });
    assert.equal(got.ok, true);
    assert.equal(got.job.id, id);
    assert.equal(got.job.state, 'waiting');
    assert.equal((await ws.request({ cmd: 'GetJob', id: 'nope' })).error, 'Job not found');
    const pulled = await ws.request({ cmd: 'PULL', queue: q });
    assert.equal((await ws.request({ cmd: 'Progress', id, progress: 42, message: 'half', token: pulled.token })).ok, true);
    assert.equal((await srv.getJob(id)).progress, 42);
    assert.equal((await ws.request({ cmd: 'Progress', id, progress: 101 })).error, 'progress must be a number from 0 to 100');
    assert.equal((await ws.request({ cmd: 'Heartbeat', id, token: pulled.token })).ok, true);
    assert.equal((await srv.getJob(id)).progress, 42, 'a heartbeat leaves progress alone');
    assert.equal((await ws.request({ cmd: 'Heartbeat', id, token: 'wrong' })).error, 'Invalid or expired lock token');
    assert.deepEqual(await ws.request({ cmd: 'Cancel', id, reqId: 'c' }), { ok: true, reqId: 'c' });
    assert.equal((await srv.getRaw(id)).status, 404);
    assert.equal((await ws.request({ cmd: 'Cancel', id })).error, 'Job not found');
    assert.equal((await ws.request({ cmd: 'Heartbeat', id })).error, 'Job not found or not active');
    const before = Date.now();
    const pong = await ws.request({ cmd: 'Ping', reqId: 'p' });
    assert.deepEqual(Object.keys(pong), ['ok', 'pong', 'reqId']);
    assert.ok(pong.pong >= before - 5 && pong.pong <= Date.now() + 5);
  });

  it('malformed JSON, non-objects, a missing or unknown cmd are answered, never closing the socket', async () => {
    ws.sendRaw('{not json');
    await ws.nextMessage((m) => m.error === 'Invalid JSON', 'Invalid JSON answer');
    ws.sendRaw('[1,2]');
    await ws.nextMessage((m) => m.error === 'A command must be a JSON object', 'non-object answer');
    assert.deepEqual(await ws.request({ reqId: 'n' }), { ok: false, error: 'cmd is required', reqId: 'n' });
    assert.deepEqual(await ws.request({ cmd: 'Explode', reqId: 'u' }), { ok: false, error: 'Unknown command: Explode', reqId: 'u' });
    assert.equal((await ws.request({ cmd: 'push', queue: qname('lc'), data: 1 })).ok, true, 'command names are case-insensitive');
    assert.equal((await ws.request({ cmd: 'Ping' })).ok, true, 'still open');
  });

  it('pipelined commands: every answer carries its reqId', async () => {
    const q = qname('pipe');
    const n = 300;
    const pushes = Array.from({ length: n }, (_, i) => ws.request({ cmd: 'PUSH', queue: q, data: i, reqId: `p-${i}`, durable: i % 3 === 0 }));
    const pulls = Array.from({ length: 50 }, (_, i) => ws.request({ cmd: 'PULL', queue: q, reqId: `l-${i}` }));
    const pushed = await Promise.all(pushes);
    const pulledAnswers = await Promise.all(pulls);
    pushed.forEach((answer, i) => assert.equal(answer.reqId, `p-${i}`));
    assert.equal(new Set(pushed.map((a) => a.id)).size, n, 'distinct ids');
    for (const [i, answer] of pushed.entries()) assert.equal((await srv.getJob(answer.id)).data, i, 'answer i is push i');
    pulledAnswers.forEach((answer, i) => assert.equal(answer.reqId, `l-${i}`));
    const pulledIds = pulledAnswers.map((a) => a.job.id);
    assert.equal(new Set(pulledIds).size, 50, 'each pull got its own job');
  });
});

describe('WebSocket broadcasts', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });

  it('carry the SSE event objects, filtered by queue on /ws/queues/:queue', async () => {
    const [qa, qb] = [qname('wa'), qname('wb')];
    const all = await WsTestClient.connect(srv.port, '/ws');
    const onlyA = await WsTestClient.connect(srv.port, `/ws/queues/${qa}`);
    const sse = await SseClient.open(srv.url, '/events');
    try {
      await sse.until(() => sse.messages.length >= 1, 'connect');
      const a = await srv.push(qa, { data: { x: 1 } });
      const b = await srv.push(qb, { data: 2 });
      const p = await srv.pull(qa);
      await srv.ack(p.job.id);
      await all.until(() => all.events.length >= 5, '5 events');
      await onlyA.until(() => onlyA.events.length >= 4, '4 events');
      await sse.untilEvents(5);
      await sleep(50);
      assert.deepEqual(all.events, sse.events.map((m) => m.json), 'same objects as SSE');
      assert.deepEqual(
        onlyA.events.map((e) => [e.eventType, e.jobId]),
        [
          ['pushed', a],
          ['pulled', a],
          ['drained', a],
          ['completed', a],
        ],
      );
      assert.ok(all.events.some((e) => e.jobId === b));
      assert.deepEqual(Object.keys(all.events[0]), ['eventType', 'queue', 'jobId', 'timestamp', 'data']);
    } finally {
      all.close();
      onlyA.close();
      sse.close();
    }
  });

  it('?from= replays the log before going live, like SSE', async () => {
    const q = qname('wfrom');
    const first = await srv.push(q, { data: 1 });
    const second = await srv.push(q, { data: 2 });
    const client = await WsTestClient.connect(srv.port, `/ws/queues/${q}?from=0`);
    try {
      await client.until(() => client.events.length >= 2, 'replayed events');
      const third = await srv.push(q, { data: 3 });
      await client.until(() => client.events.length >= 3, 'live event');
      assert.deepEqual(client.events.map((e) => e.jobId), [first, second, third]);
    } finally {
      client.close();
    }
  });

  it('refuses unknown paths (404) and bad queue names (400) before the handshake', async () => {
    const { headers: _headers, ...notFound } = await WsTestClient.refused(srv.port, '/nope');
    assert.deepEqual(notFound, {
      status: 404,
      body: '{"ok":false,"error":"Not found"}',
      json: { ok: false, error: 'Not found' },
    });
    assert.equal((await WsTestClient.refused(srv.port, '/ws/queues/a%20b')).status, 400);
    assert.equal((await WsTestClient.refused(srv.port, '/ws?from=zz')).status, 400);
  });
});

describe('WebSocket ownership', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });

  it('jobs pulled on a socket go back to waiting when it closes, without consuming an attempt', async () => {
    const q = qname('own');
    const watcher = await SseClient.open(srv.url, `/events/queues/${q}`);
    await watcher.until(() => watcher.messages.length >= 1, 'connect');
    const held = await srv.push(q, { data: 'held', maxAttempts: 3, backoff: 0 });
    // One failed attempt first: release must keep the count.
    const first = await srv.pull(q);
    assert.equal(first.job.id, held);
    await srv.fail(held, { error: 'once' });
    const acked = await srv.push(q, { data: 'acked' });
    const viaHttp = await srv.push(q, { data: 'http' });
    const worker = await WsTestClient.connect(srv.port, '/ws');
    const p1 = await worker.request({ cmd: 'PULL', queue: q });
    const p2 = await worker.request({ cmd: 'PULL', queue: q });
    assert.deepEqual([p1.job.id, p2.job.id].sort(), [held, acked].sort());
    assert.equal((await worker.request({ cmd: 'ACK', id: acked })).ok, true);
    const http = await srv.pull(q);
    assert.equal(http.job.id, viaHttp);
    assert.equal((await srv.getJob(held)).attempts, 1);
    // The failed attempt above already emitted one `retried` for this job: wait for the release's, a new one.
    const retriedOfHeld = () => watcher.events.filter((m) => m.json.eventType === 'retried' && m.json.prev === 'active' && m.json.jobId === held).length;
    const before = retriedOfHeld();
    worker.terminate(); // abrupt: no close handshake
    await watcher.until(() => retriedOfHeld() > before, 'retried of the release');
    const release = watcher.events.filter((m) => m.json.eventType === 'retried' && m.json.jobId === held).at(-1);
    assert.ok(release?.id !== undefined && !release.id.includes(':'), 'a release is one event: its id is the plain position');
    const job = await srv.getJob(held);
    assert.equal(job.state, 'waiting');
    assert.equal(job.attempts, 1, 'no attempt consumed');
    assert.equal((await srv.getJob(acked)).state, 'completed', 'acked job untouched');
    assert.equal((await srv.getJob(viaHttp)).state, 'active', 'HTTP leases are owned by their lease only');
    const again = await srv.pull(q);
    assert.equal(again.job.id, held, 'pullable again at once');
    watcher.close();
  });

  it('a long-polling PULL is dropped when its socket closes, and leaves the job for others', async () => {
    const q = qname('lp');
    const worker = await WsTestClient.connect(srv.port, '/ws');
    void worker.request({ cmd: 'PULL', queue: q, timeout: 5000 }).catch(() => {});
    await sleep(100);
    worker.close();
    await worker.closed;
    await sleep(50);
    const id = await srv.push(q, { data: 1 });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, id);
  });
});

describe('WebSocket with AUTH_TOKENS', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ env: { AUTH_TOKENS: 'tok-1,tok-2' } });
  });

  it('refuses the upgrade with 401 without a token or with a wrong one', async () => {
    for (const [path, headers] of [
      ['/ws', {}],
      ['/ws/queues/q', { authorization: 'Bearer nope' }],
      ['/ws?token=nope', {}],
    ] as const) {
      const refused = await WsTestClient.refused(srv.port, path, headers);
      assert.equal(refused.status, 401, path);
      assert.deepEqual(refused.json, { ok: false, error: 'Unauthorized' });
    }
  });

  it('accepts the Authorization header or ?token=', async () => {
    for (const [path, headers] of [
      ['/ws', { authorization: 'Bearer tok-1' }],
      ['/ws/queues/q?token=tok-2', {}],
    ] as const) {
      const ws = await WsTestClient.connect(srv.port, path, headers);
      assert.equal((await ws.request({ cmd: 'Ping' })).ok, true);
      ws.close();
    }
  });

  it('the Auth command re-authenticates: a wrong token locks the connection until a good one', async () => {
    const ws = await WsTestClient.connect(srv.port, '/ws', { authorization: 'Bearer tok-1' });
    const q = qname('auth');
    try {
      assert.deepEqual(await ws.request({ cmd: 'Auth', token: 'nope', reqId: 'a1' }), { ok: false, error: 'Invalid token', reqId: 'a1' });
      assert.deepEqual(await ws.request({ cmd: 'PUSH', queue: q, data: 1, reqId: 'a2' }), { ok: false, error: 'Unauthorized', reqId: 'a2' });
      assert.equal((await ws.request({ cmd: 'Ping' })).ok, true, 'Ping needs no token');
      // Without reqId the answer is exactly the contract's.
      ws.sendRaw(JSON.stringify({ cmd: 'Auth', token: 'tok-2' }));
      const ok = await ws.nextMessage((m) => m.ok === true && Object.keys(m).length === 1, 'Auth answer');
      assert.deepEqual(ok, { ok: true });
      assert.equal((await ws.request({ cmd: 'PUSH', queue: q, data: 1 })).ok, true);
    } finally {
      ws.close();
    }
  });
});

describe('WebSocket upgrades and limits', () => {
  it('count against the client like any request: refused with 429 and Retry-After before the handshake', async () => {
    const srv = await startServer({ env: { RATE_LIMIT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '60000', MAX_BODY_BYTES: '4096' } });
    const first = await WsTestClient.connect(srv.port, '/ws');
    const second = await WsTestClient.connect(srv.port, '/ws');
    assert.equal((await srv.request('GET', '/queues/q/jobs')).status, 200, 'the third request of the window');
    const refused = await WsTestClient.refused(srv.port, '/ws');
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.json, { ok: false, error: 'Rate limit exceeded' });
    // Commands on an open socket are not requests: they are not limited.
    for (let i = 0; i < 5; i++) assert.equal((await first.request({ cmd: 'Ping' })).ok, true);
    // A command larger than MAX_BODY_BYTES closes the socket with 1009.
    first.sendRaw(JSON.stringify({ cmd: 'PUSH', queue: 'q', data: 'x'.repeat(5000) }));
    assert.equal((await first.closed).code, 1009);
    second.close();
  });
});
