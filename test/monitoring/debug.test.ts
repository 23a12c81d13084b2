// POST /gc and GET /heapstats: the contract's shapes, MB figures, and the
// cheap heap report (the server's own objects as types; see docs/design.md).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, startServer, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
  const q = qname('dbg');
  for (let i = 0; i < 5; i++) await srv.push(q, { data: i });
  await srv.pull(q);
});
after(async () => {
  await cleanupAll();
});

function assertHeapMb(memory: Record<string, unknown>, what: string) {
  assert.deepEqual(Object.keys(memory).sort(), ['heapTotal', 'heapUsed', 'rss'], what);
  for (const [key, value] of Object.entries(memory)) {
    assert.ok(Number.isInteger(value) && (value as number) >= 0 && (value as number) < 4096, `${what}.${key} = ${String(value)} MB`);
  }
}

describe('POST /gc', () => {
  it('collects and answers memory before and after in MB', async () => {
    const r = await srv.request('POST', '/gc');
    assert.equal(r.status, 200, r.describe);
    assert.deepEqual(Object.keys(r.json).sort(), ['after', 'before', 'ok'], 'no note: the server runs with --expose-gc');
    assert.equal(r.json.ok, true);
    assertHeapMb(r.json.before, 'before');
    assertHeapMb(r.json.after, 'after');
    // A full collection does not grow the heap (1 MB of rounding slack).
    assert.ok(r.json.after.heapUsed <= r.json.before.heapUsed + 1, r.describe);
  });

  it('accepts a JSON body and ignores it', async () => {
    const r = await srv.request('POST', '/gc', { anything: true });
    assert.equal(r.status, 200, r.describe);
  });
});

describe('GET /heapstats', () => {
  it('answers memory, heap counts, collections and the top object types', async () => {
    const r = await srv.request('GET', '/heapstats');
    assert.equal(r.status, 200, r.describe);
    const body = r.json;
    assert.deepEqual(Object.keys(body).sort(), ['collections', 'heap', 'memory', 'ok', 'topObjectTypes']);
    assert.equal(body.ok, true);
    assertHeapMb(body.memory, 'memory');

    assert.deepEqual(Object.keys(body.heap).sort(), ['globalCount', 'objectCount', 'protectedCount']);
    for (const [key, value] of Object.entries(body.heap)) {
      assert.ok(Number.isInteger(value) && (value as number) >= 0, `heap.${key} = ${String(value)}`);
    }
    assert.ok(body.heap.globalCount >= 1, 'at least the main context');
    assert.ok(body.heap.protectedCount >= 1, 'at least the listening socket');

    assert.deepEqual(body.collections, { jobIndex: 5, completedJobs: 0, processingTotal: 1, queuedTotal: 4, temporalIndexTotal: 0 });
    const stats = await srv.request('GET', '/stats');
    assert.deepEqual(body.collections, stats.json.collections, 'same collections as /stats');

    const types: Array<{ type: string; count: number }> = body.topObjectTypes;
    assert.ok(Array.isArray(types) && types.length > 0 && types.length <= 20, `1..20 types: ${r.describe}`);
    for (const entry of types) {
      assert.deepEqual(Object.keys(entry).sort(), ['count', 'type']);
      assert.equal(typeof entry.type, 'string');
      assert.ok(Number.isInteger(entry.count) && entry.count >= 0);
    }
    for (let i = 1; i < types.length; i++) assert.ok(types[i - 1].count >= types[i].count, 'largest first');
    const count = (type: string) => types.find((t) => t.type === type)?.count;
    assert.equal(count('Job'), 5);
    assert.equal(count('Queue'), 1);
    assert.equal(count('PullWaiter'), 0);
    assert.ok((count('HttpConnection') ?? 0) >= 1);
    assert.equal(body.heap.objectCount, types.reduce((sum, t) => sum + t.count, 0), 'objectCount sums the types');
  });
});
