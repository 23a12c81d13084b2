// Back-pressure and shutdown: a client that reads nothing is cut off (STREAM_BUFFER_BYTES), then resumes from its
// last id without a gap; at SIGTERM streams end, sockets close with 1001 and WebSocket-held jobs go back to waiting.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SseClient } from '../support/sseClient.ts';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

/** ~24 MiB of events: more than the loopback socket buffers can hide, so the server's own buffer grows. */
const JOBS = 3000;
const PAYLOAD = 'x'.repeat(8 * 1024);

async function flood(producer: WsTestClient, queue: string, jobs = JOBS): Promise<void> {
  const answers = await Promise.all(Array.from({ length: jobs }, (_, i) => producer.request({ cmd: 'PUSH', queue, data: { i, PAYLOAD } })));
  assert.ok(answers.every((a) => a.ok));
}

describe('slow consumers', () => {
  let srv: TestServer;
  let producer: WsTestClient;
  before(async () => {
    srv = await startServer({ env: { STREAM_BUFFER_BYTES: String(256 * 1024) } });
    producer = await WsTestClient.connect(srv.port, '/ws/queues/producer-only');
  });
  after(() => producer.close());

  it('an SSE client that reads nothing is cut off, and resumes from its last id with nothing lost', async () => {
    const q = qname('slow-sse');
    const slow = await SseClient.open(srv.url, `/events/queues/${q}`);
    await slow.until(() => slow.messages.length >= 1, 'connect');
    slow.pause();
    const flooding = flood(producer, q);
    await waitForLog(srv, 'event stream cut', 'the slow stream to be cut');
    slow.resume();
    await flooding;
    await slow.ended;
    const got = slow.events.length;
    assert.ok(got < JOBS, `cut before the end (${got} of ${JOBS})`);
    const resumed = await SseClient.open(srv.url, `/events/queues/${q}`, { 'last-event-id': slow.lastId ?? '0' });
    try {
      await resumed.untilEvents(JOBS - got, 15_000);
      const all = [...slow.events, ...resumed.events].map((m) => m.json.data.i);
      assert.deepEqual(all, Array.from({ length: JOBS }, (_, i) => i), 'every event once, in order');
    } finally {
      resumed.close();
    }
  });

  it('a WebSocket client that reads nothing is closed with 1013', async () => {
    const q = qname('slow-ws');
    const slow = await WsTestClient.connect(srv.port, `/ws/queues/${q}`);
    slow.pause();
    const flooding = flood(producer, q);
    await waitForLog(srv, 'websocket closed: client too slow', 'the slow socket to be closed');
    // Read again before the server's grace period ends: the close frame waits behind what was sent.
    slow.resume();
    await flooding;
    const closed = await slow.closed;
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /too slow/i);
    assert.ok(slow.events.length < JOBS);
    await waitForHealth(srv, (c) => c.ws === 1 && c.sse === 0, 'only the producer left');
  });
});

describe('shutdown', () => {
  it('ends SSE streams, closes sockets with 1001, gives WebSocket-held jobs back, and exits 0', async () => {
    let srv = await startServer();
    const q = qname('bye');
    const id = await srv.push(q, { data: 1, maxAttempts: 2 });
    const sse = await SseClient.open(srv.url, '/events');
    await sse.until(() => sse.messages.length >= 1, 'connect');
    const worker = await WsTestClient.connect(srv.port, '/ws');
    const pulled = await worker.request({ cmd: 'PULL', queue: q });
    assert.equal(pulled.job.id, id);
    const started = Date.now();
    assert.equal(await srv.stop(), 0);
    assert.ok(Date.now() - started < 5000, 'prompt');
    assert.equal((await worker.closed).code, 1001);
    await sse.ended;
    srv = await srv.restart();
    const job = await srv.getJob(id);
    assert.equal(job.state, 'waiting', 'released before the log closed');
    assert.equal(job.attempts, 0);
    await srv.stop();
  });
});

async function waitForLog(srv: TestServer, text: string, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!srv.output(1 << 20).includes(text)) {
    if (Date.now() > deadline) assert.fail(`${what}: no "${text}" in the server log`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForHealth(srv: TestServer, done: (connections: { sse: number; ws: number }) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await srv.request('GET', '/health');
    if (done(res.json.connections)) return;
    if (Date.now() > deadline) assert.fail(`${what}: connections still ${JSON.stringify(res.json.connections)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
