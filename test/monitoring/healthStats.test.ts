// GET /health, /stats, /metrics, /healthz, /live against a running server
// after a known workload: every field of the contract, and the values.
// Also: open HTTP connections are counted, and counters restart from zero
// with the process (replaying the log does not count).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cleanupAll, qname, REPO_ROOT, startServer, waitFor, type TestServer } from '../support/testServer.ts';

const VERSION = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string }).version;

let srv: TestServer;

/** Queue counts and totals the workload below leaves behind. */
const QUEUES = { waiting: 1, active: 0, delayed: 2, completed: 1, dlq: 1 };
const TOTALS = { totalPushed: 6, totalPulled: 3, totalCompleted: 1, totalFailed: 1 };
const JOBS_RETAINED = 6;

before(async () => {
  srv = await startServer();
  const q = qname('mon');
  // Three jobs with one attempt each: one completed, one dead-lettered, one left waiting.
  const [a, b, c] = [await srv.push(q, { data: 1, maxAttempts: 1 }), await srv.push(q, { data: 2, maxAttempts: 1 }), await srv.push(q, { data: 3, maxAttempts: 1 })];
  const first = await srv.pull(q);
  const second = await srv.pull(q);
  assert.deepEqual([first.job?.id, second.job?.id], [a, b]);
  assert.equal((await srv.ack(a, { token: first.token })).status, 200);
  assert.equal((await srv.fail(b, { token: second.token, error: 'boom' })).status, 200);
  // Delayed; waiting for a dependency (not counted as waiting); a retry waiting out its backoff (delayed, not failed).
  await srv.push(qname('mon-delayed'), { data: 4, delay: 60_000 });
  await srv.push(q, { data: 5, dependsOn: [c] });
  const rq = qname('mon-retry');
  const r = await srv.push(rq, { data: 6, maxAttempts: 2, backoff: 60_000 });
  const third = await srv.pull(rq);
  assert.equal((await srv.fail(r, { token: third.token })).status, 200);
  // A duplicate creates nothing.
  await srv.push(q, { data: 1, jobId: a });
});
after(async () => {
  await cleanupAll();
});

function assertMemoryMb(memory: Record<string, unknown>, keys: string[], what: string) {
  assert.deepEqual(Object.keys(memory).sort(), [...keys].sort(), what);
  for (const key of keys) {
    const value = memory[key];
    assert.ok(Number.isInteger(value) && (value as number) >= 0, `${what}.${key} = ${String(value)}: whole MB`);
  }
  assert.ok((memory.rss as number) > 0, `${what}.rss > 0`);
  assert.ok((memory.heapUsed as number) <= (memory.heapTotal as number), `${what}: heapUsed <= heapTotal`);
  // Nothing this small test does should take a GiB: catches bytes reported as MB.
  assert.ok((memory.rss as number) < 4096, `${what}.rss in MB`);
}

describe('GET /health', () => {
  it('answers every field of the contract with the state after the workload', async () => {
    const r = await srv.request('GET', '/health');
    assert.equal(r.status, 200, r.describe);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    const body = r.json;
    assert.deepEqual(Object.keys(body).sort(), ['connections', 'memory', 'ok', 'queues', 'status', 'uptime', 'version']);
    assert.equal(body.ok, true);
    assert.equal(body.status, 'healthy');
    assert.equal(body.version, VERSION);
    assert.ok(Number.isInteger(body.uptime) && body.uptime >= 0 && body.uptime < 600, `uptime in s: ${body.uptime}`);
    assert.deepEqual(body.queues, QUEUES, r.describe);
    assert.deepEqual(Object.keys(body.connections).sort(), ['sse', 'tcp', 'ws']);
    assert.ok(body.connections.tcp >= 1, `this request's own connection: ${r.describe}`);
    assert.equal(body.connections.ws, 0);
    assert.equal(body.connections.sse, 0);
    assertMemoryMb(body.memory, ['heapUsed', 'heapTotal', 'rss'], 'memory');
  });

  it('counts open HTTP connections', async () => {
    const tcp = async () => (await srv.request('GET', '/health')).json.connections.tcp as number;
    const base = await tcp();
    const sockets: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = connect(srv.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      sockets.push(socket);
    }
    const opened = await waitFor(async () => {
      const n = await tcp();
      return n >= base + 3 ? n : 0;
    });
    for (const socket of sockets) socket.destroy();
    await waitFor(async () => (await tcp()) <= opened - 3);
  });
});

describe('GET /stats', () => {
  it('answers every field of the contract', async () => {
    const r = await srv.request('GET', '/stats');
    assert.equal(r.status, 200, r.describe);
    const body = r.json;
    assert.deepEqual(Object.keys(body).sort(), ['collections', 'memory', 'ok', 'stats']);
    assert.equal(body.ok, true);
    const { uptime, pushPerSec, pullPerSec, ...rest } = body.stats;
    assert.deepEqual(rest, {
      queued: QUEUES.waiting,
      processing: QUEUES.active,
      delayed: QUEUES.delayed,
      dlq: QUEUES.dlq,
      completed: QUEUES.completed,
      ...TOTALS,
    });
    assert.ok(Number.isInteger(uptime) && uptime >= 0 && uptime < 600, `uptime ${uptime}`);
    // All the workload happened within the 10 s window and at least 1 s is always the divisor.
    assert.ok(pushPerSec > 0 && pushPerSec <= TOTALS.totalPushed, `pushPerSec ${pushPerSec}`);
    assert.ok(pullPerSec > 0 && pullPerSec <= TOTALS.totalPulled, `pullPerSec ${pullPerSec}`);
    assertMemoryMb(body.memory, ['heapUsed', 'heapTotal', 'rss', 'external', 'arrayBuffers'], 'memory');
    assert.deepEqual(body.collections, {
      jobIndex: JOBS_RETAINED,
      completedJobs: QUEUES.completed,
      processingTotal: QUEUES.active,
      queuedTotal: QUEUES.waiting,
      temporalIndexTotal: QUEUES.delayed,
    });
  });
});

describe('GET /metrics', () => {
  it('answers the four totals', async () => {
    const r = await srv.request('GET', '/metrics');
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(r.json, { ok: true, metrics: TOTALS });
  });
});

describe('liveness probes', () => {
  for (const path of ['/healthz', '/live']) {
    it(`GET ${path} answers OK as text/plain`, async () => {
      const r = await srv.request('GET', path);
      assert.equal(r.status, 200, r.describe);
      assert.equal(r.text, 'OK');
      assert.match(r.headers['content-type'] ?? '', /^text\/plain\b/);
    });
  }

  it('a method the contract does not list is an unknown endpoint', async () => {
    for (const [method, path] of [['POST', '/health'], ['DELETE', '/healthz'], ['POST', '/stats'], ['GET', '/gc']] as const) {
      const r = await srv.request(method, path);
      assert.equal(r.status, 404, r.describe);
      assert.deepEqual(r.json, { ok: false, error: 'Not found' });
    }
  });
});

describe('after a restart', () => {
  it('counters start from zero while the recovered queues are reported', async () => {
    assert.equal(await srv.stop(), 0);
    srv = await srv.restart();
    const metrics = await srv.request('GET', '/metrics');
    assert.deepEqual(metrics.json, { ok: true, metrics: { totalPushed: 0, totalPulled: 0, totalCompleted: 0, totalFailed: 0 } });
    const health = await srv.request('GET', '/health');
    assert.deepEqual(health.json.queues, QUEUES, health.describe);
    const stats = await srv.request('GET', '/stats');
    assert.equal(stats.json.stats.pushPerSec, 0);
    assert.equal(stats.json.stats.pullPerSec, 0);
  });
});
