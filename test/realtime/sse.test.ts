// Server-Sent Events: GET /events and /events/queues/:queue, replay by id.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SseClient, SseClient as Sse } from '../support/sseClient.ts';
import { cleanupAll, qname, sleep, startServer, type TestServer, UUID_V7 } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

const ids = (c: SseClient) => c.events.map((m) => m.id as string);

describe('SSE', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer();
  });

  it('opens with the connect message as its first frame, no id and no retry line', async () => {
    const c = await Sse.open(srv.url, '/events');
    try {
      assert.equal(c.status, 200);
      assert.match(String(c.headers['content-type']), /^text\/event-stream/);
      assert.equal(c.headers['access-control-allow-origin'], '*');
      await c.until(() => c.messages.length >= 1, 'connect message');
      assert.match(c.text, /^data: \{"connected":true,"clientId":"[0-9a-f-]{36}"\}\n\n/);
      assert.deepEqual(Object.keys(c.messages[0]!.json), ['connected', 'clientId']);
      assert.match(c.messages[0]!.json.clientId, UUID_V7);
      assert.equal(c.messages[0]!.id, undefined);
      assert.equal(c.messages[0]!.event, undefined, 'unnamed message');
    } finally {
      c.close();
    }
  });

  it('carries every job event with the contract fields, unnamed, with log-position ids', async () => {
    const q = qname('sse');
    const c = await Sse.open(srv.url, `/events/queues/${q}`);
    try {
      await c.until(() => c.messages.length >= 1, 'connect');
      const a = await srv.push(q, { data: { n: 1 }, jobId: `${q}-a`, backoff: 30_000, maxAttempts: 2 });
      await srv.push(q, { data: 'again', jobId: a }); // duplicated
      const pulled = await srv.pull(q); // pulled + drained (last ready job)
      assert.equal(pulled.job.id, a);
      assert.equal((await srv.request('POST', `/jobs/${a}/progress`, { progress: 40 })).status, 200);
      assert.equal((await srv.fail(a, { error: 'boom' })).status, 200); // failed + retried + delayed
      const later = await srv.push(q, { data: 2, delay: 60_000 }); // pushed + delayed
      assert.equal((await srv.cancel(later)).status, 200); // removed
      const parent = await srv.push(q, { data: 3, delay: 60_000 });
      const child = await srv.push(q, { data: 4, dependsOn: [parent] }); // pushed + waiting-children
      const b = await srv.push(q, { data: 5 });
      const p2 = await srv.pull(q); // pulled + drained
      assert.equal(p2.job.id, b);
      assert.equal((await srv.ack(b, { result: 1 })).status, 200); // completed
      await c.untilEvents(19);
      const events = c.events.map((m) => m.json);
      for (const e of events) {
        assert.equal(e.queue, q);
        assert.equal(typeof e.timestamp, 'number');
      }
      const strip = (e: any) => {
        const { timestamp: _t, queue: _q, ...rest } = e;
        return rest;
      };
      assert.deepEqual(events.map(strip), [
        { eventType: 'pushed', jobId: a, data: { n: 1 } },
        { eventType: 'duplicated', jobId: a },
        { eventType: 'pulled', jobId: a },
        { eventType: 'drained', jobId: a },
        { eventType: 'progress', jobId: a, progress: 40 },
        { eventType: 'failed', jobId: a, error: 'boom' },
        { eventType: 'retried', jobId: a, prev: 'active' },
        { eventType: 'delayed', jobId: a, delay: 30_000 },
        { eventType: 'pushed', jobId: later, data: 2 },
        { eventType: 'delayed', jobId: later, delay: 60_000 },
        { eventType: 'removed', jobId: later, prev: 'delayed' },
        { eventType: 'pushed', jobId: parent, data: 3 },
        { eventType: 'delayed', jobId: parent, delay: 60_000 },
        { eventType: 'pushed', jobId: child, data: 4 },
        { eventType: 'waiting-children', jobId: child },
        { eventType: 'pushed', jobId: b, data: 5 },
        { eventType: 'pulled', jobId: b },
        { eventType: 'drained', jobId: b },
        { eventType: 'completed', jobId: b },
      ]);
      assert.ok(c.events.every((m) => m.event === undefined), 'no event: lines');
      // Ids: strictly increasing positions; an entry's earlier events are "<p>:<i>", its last one "<p>".
      const seen = ids(c);
      assert.equal(new Set(seen).size, seen.length, 'ids are unique');
      const failIds = seen.slice(5, 8);
      const failPos = failIds[2]!;
      assert.deepEqual(failIds, [`${failPos}:0`, `${failPos}:1`, failPos], 'fail entry: failed, retried, delayed');
      assert.match(seen[2]!, /^\d+:0$/, 'pulled is not the last event of its entry');
      assert.equal(seen[3], seen[2]!.split(':')[0], 'drained is');
      const positions = seen.map((id) => Number(id.split(':')[0]));
      for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! >= positions[i - 1]!, `ids in log order: ${seen}`);
    } finally {
      c.close();
    }
  });

  it('filters by queue; /events carries all queues', async () => {
    const [qa, qb] = [qname('fa'), qname('fb')];
    const onlyA = await Sse.open(srv.url, `/events/queues/${qa}`);
    const all = await Sse.open(srv.url, '/events');
    try {
      await onlyA.until(() => onlyA.messages.length >= 1, 'connect');
      await all.until(() => all.messages.length >= 1, 'connect');
      const ja = await srv.push(qa, { data: 'a' });
      const jb = await srv.push(qb, { data: 'b' });
      const ja2 = await srv.push(qa, { data: 'a2' });
      await all.until(() => all.events.filter((m) => [ja, jb, ja2].includes(m.json.jobId)).length === 3, 'all three');
      await onlyA.untilEvents(2);
      await sleep(50);
      assert.deepEqual(onlyA.events.map((m) => m.json.jobId), [ja, ja2]);
    } finally {
      onlyA.close();
      all.close();
    }
  });

  it('rejects a bad queue name, a bad from and a bad Last-Event-ID with 400', async () => {
    for (const [path, headers, error] of [
      ['/events/queues/bad%20name', {}, /queue name/],
      ['/events?from=abc', {}, /from must be/],
      ['/events', { 'last-event-id': 'x1' }, /Last-Event-ID must be/],
    ] as const) {
      const c = await Sse.open(srv.url, path, headers);
      assert.equal(c.status, 400, path);
      const body = JSON.parse(await c.body());
      assert.equal(body.ok, false);
      assert.match(body.error, error);
    }
  });

  it('?from=<position> replays every event after it, then goes live', async () => {
    const q = qname('from');
    const first = await srv.push(q, { data: 1 });
    const second = await srv.push(q, { data: 2 });
    // Learn the position of the first push from a full replay of the queue.
    const probe = await Sse.open(srv.url, `/events/queues/${q}?from=0`);
    await probe.untilEvents(2);
    probe.close();
    const [p1, p2] = probe.events.map((m) => m.id);
    assert.deepEqual(probe.events.map((m) => m.json.jobId), [first, second]);
    const c = await Sse.open(srv.url, `/events/queues/${q}?from=${p1}`);
    try {
      await c.untilEvents(1);
      assert.equal(c.events[0]!.id, p2);
      const third = await srv.push(q, { data: 3 });
      await c.untilEvents(2);
      assert.deepEqual(c.events.map((m) => m.json.jobId), [second, third]);
    } finally {
      c.close();
    }
  });
});

describe('SSE replay across restarts', () => {
  it('a client reconnecting with Last-Event-ID (after kill -9, then after SIGTERM) gets exactly what it missed', async () => {
    let srv = await startServer();
    const q = qname('restart');
    const watcher = await Sse.open(srv.url, '/events');
    await watcher.until(() => watcher.messages.length >= 1, 'connect');
    for (let i = 0; i < 5; i++) await srv.push(q, { data: i, durable: true });
    const p = await srv.pull(q);
    await srv.ack(p.job.id);
    await watcher.untilEvents(7);
    const lastSeen = watcher.lastId as string;
    watcher.close();
    // Missed while disconnected; durable, so a kill -9 cannot lose them.
    for (let i = 5; i < 8; i++) await srv.push(q, { data: i, durable: true });
    await srv.pull(q);
    await srv.kill();

    srv = await srv.restart();
    const resumed = await Sse.open(srv.url, '/events', { 'last-event-id': lastSeen });
    const full = await Sse.open(srv.url, '/events?from=0');
    try {
      await full.untilEvents(7 + 4);
      const fullIds = ids(full);
      const at = fullIds.indexOf(lastSeen);
      assert.ok(at >= 0, `${lastSeen} is in the replay`);
      assert.deepEqual(fullIds.slice(0, at + 1), ids(watcher), 'the log replays what was streamed live, with the same ids');
      await resumed.untilEvents(fullIds.length - at - 1);
      // Live events after the replay, without a gap or a duplicate.
      const live = await srv.push(q, { data: 'live', durable: true });
      await resumed.until(() => resumed.events.some((m) => m.json.jobId === live), 'live event');
      await full.until(() => full.events.some((m) => m.json.jobId === live), 'live event');
      assert.deepEqual(ids(resumed), ids(full).slice(at + 1), 'resumed = everything after the last id, once');
      assert.deepEqual(
        resumed.events.slice(0, 4).map((m) => m.json.eventType),
        ['pushed', 'pushed', 'pushed', 'pulled'],
      );
    } finally {
      resumed.close();
      full.close();
    }

    const lastBeforeStop = ids(full).at(-1) as string;
    const afterStop = await srv.push(q, { data: 'after' });
    assert.equal(await srv.stop(), 0);
    srv = await srv.restart();
    const again = await Sse.open(srv.url, `/events?from=${lastBeforeStop}`);
    try {
      await again.untilEvents(1);
      await sleep(100);
      assert.deepEqual(
        again.events.map((m) => [m.json.eventType, m.json.jobId]),
        [['pushed', afterStop]],
        'a graceful stop keeps the non-durable push and its event',
      );
    } finally {
      again.close();
      await srv.stop();
    }
  });
});

describe('SSE with AUTH_TOKENS', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ env: { AUTH_TOKENS: 'tok-1,tok-2' } });
  });

  it('refuses a missing or wrong token with 401 in the error format', async () => {
    for (const [path, headers] of [
      ['/events', {}],
      ['/events?token=nope', {}],
      ['/events/queues/q', { authorization: 'Bearer nope' }],
    ] as const) {
      const c = await Sse.open(srv.url, path, headers);
      assert.equal(c.status, 401, path);
      assert.deepEqual(JSON.parse(await c.body()), { ok: false, error: 'Unauthorized' });
    }
  });

  it('accepts the Authorization header or ?token= (EventSource cannot set headers)', async () => {
    for (const [path, headers] of [
      ['/events', { authorization: 'Bearer tok-1' }],
      ['/events/queues/q?token=tok-2', {}],
    ] as const) {
      const c = await Sse.open(srv.url, path, headers);
      try {
        assert.equal(c.status, 200, path);
        await c.until(() => c.messages.length >= 1, 'connect');
        assert.equal(c.messages[0]!.json.connected, true);
      } finally {
        c.close();
      }
    }
  });

  it('?token= is for event streams only', async () => {
    const res = await srv.request('GET', '/jobs/x?token=tok-1');
    assert.equal(res.status, 401);
  });
});

describe('SSE and the server’s own decisions', () => {
  it('a lease that runs out arrives as stalled, then failed and retried', async () => {
    const srv = await startServer({ env: { LOCK_TTL_MS: '150' } });
    const q = qname('stall');
    const c = await Sse.open(srv.url, `/events/queues/${q}`);
    try {
      await c.until(() => c.messages.length >= 1, 'connect');
      const id = await srv.push(q, { data: 1, backoff: 0, maxAttempts: 2 });
      assert.equal((await srv.pull(q)).job.id, id);
      await c.until(() => c.events.some((m) => m.json.eventType === 'retried'), 'the stall to be decided and streamed');
      const after = c.events.map((m) => m.json).filter((e) => ['stalled', 'failed', 'retried'].includes(e.eventType));
      assert.deepEqual(after.map((e) => e.eventType), ['stalled', 'failed', 'retried']);
      assert.equal(after[1].error, 'lease expired (job stalled)');
      assert.equal(after[2].prev, 'active');
      for (const e of after) assert.equal(e.jobId, id);
    } finally {
      c.close();
      await srv.stop();
    }
  });
});
