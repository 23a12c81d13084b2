// Long-poll waiters: capped per queue (MAX_WAITERS_PER_QUEUE), first come first served even when waiters in the middle leave.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LinkedQueue } from '../../src/commands/LinkedQueue.ts';
import { cleanupAll, qname, sleep, startServer, waitFor } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

describe('LinkedQueue', () => {
  it('keeps FIFO order when nodes leave from the middle, the ends, or twice', () => {
    const queue = new LinkedQueue<number>();
    const nodes = Array.from({ length: 10 }, (_, i) => queue.push(i));
    for (const i of [0, 3, 4, 9]) assert.equal(queue.remove(nodes[i]!), true);
    assert.equal(queue.remove(nodes[3]!), false, 'a second removal does nothing');
    assert.equal(queue.size, 6);
    assert.deepEqual([...queue], [1, 2, 5, 6, 7, 8]);
    assert.equal(queue.shift(), 1);
    assert.equal(queue.remove(nodes[1]!), false, 'a shifted node is gone');
    queue.push(10);
    assert.deepEqual([...queue], [2, 5, 6, 7, 8, 10]);
    const drained: number[] = [];
    for (let value = queue.shift(); value !== undefined; value = queue.shift()) drained.push(value);
    assert.deepEqual(drained, [2, 5, 6, 7, 8, 10]);
    assert.equal(queue.size, 0);
    assert.equal(queue.shift(), undefined);
  });

  it('removing 100 000 nodes in any order is linear (sanity check, not a timing assertion)', () => {
    const queue = new LinkedQueue<number>();
    const nodes = Array.from({ length: 100_000 }, (_, i) => queue.push(i));
    // Every other node first, from the back: an array's indexOf + splice would be ~2.5e9 steps here.
    for (let i = nodes.length - 2; i >= 0; i -= 2) queue.remove(nodes[i]!);
    assert.equal(queue.size, 50_000);
    assert.equal(queue.shift(), 1);
    assert.equal(queue.shift(), 3);
  });
});

describe('MAX_WAITERS_PER_QUEUE', () => {
  it('a long-poll beyond the cap gets 503 (HTTP) or an error answer (WebSocket); other queues are not affected', async () => {
    const srv = await startServer({ env: { MAX_WAITERS_PER_QUEUE: '3' } });
    const q = qname('cap');
    const aborts = Array.from({ length: 3 }, () => new AbortController());
    const parked = aborts.map((abort) => srv.pull(q, 10_000, { signal: abort.signal }).catch(() => null));
    await waitFor(async () => (await srv.request('GET', '/heapstats')).json.topObjectTypes.find((t: { type: string }) => t.type === 'PullWaiter').count === 3);
    const refused = await srv.request('GET', `/queues/${q}/jobs?timeout=1000`);
    assert.equal(refused.status, 503, refused.describe);
    assert.deepEqual(refused.json, { ok: false, error: `Too many pulls waiting on queue ${q} (max 3): retry later` });
    assert.equal(refused.headers['retry-after'], '1');
    // A pull that does not wait is not a waiter.
    assert.equal((await srv.request('GET', `/queues/${q}/jobs`)).status, 200);
    const ws = await WsTestClient.connect(srv.port, '/ws');
    const wsRefused = await ws.request({ cmd: 'PULL', queue: q, timeout: 1000 });
    assert.equal(wsRefused.ok, false);
    assert.match(wsRefused.error, /Too many pulls waiting on queue/);
    const other = qname('other');
    const otherPull = srv.pull(other, 5000);
    const id = await srv.push(other, { data: 1 });
    assert.equal((await otherPull).job?.id, id, 'another queue has its own room');
    // A waiter that leaves makes room.
    aborts[0]!.abort();
    await waitFor(async () => (await srv.request('GET', '/heapstats')).json.topObjectTypes.find((t: { type: string }) => t.type === 'PullWaiter').count === 2);
    const again = srv.pull(q, 5000);
    await sleep(100);
    for (let i = 0; i < 3; i++) await srv.push(q, { data: i });
    assert.ok((await again).job, 'the new waiter is served');
    await Promise.all(parked);
    ws.close();
    await srv.stop();
  });

  it('waiters leaving from the middle keep first come first served', async () => {
    const srv = await startServer();
    const q = qname('fifo');
    const aborts = Array.from({ length: 5 }, () => new AbortController());
    const pulls: Array<Promise<string | null>> = [];
    for (const abort of aborts) {
      pulls.push(srv.pull(q, 10_000, { signal: abort.signal }).then((p) => p.job?.id ?? null, () => null));
      await sleep(30); // arrival order
    }
    aborts[1]!.abort();
    aborts[3]!.abort();
    await waitFor(async () => (await srv.request('GET', '/heapstats')).json.topObjectTypes.find((t: { type: string }) => t.type === 'PullWaiter').count === 3);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await srv.push(q, { data: i }));
      await sleep(30);
    }
    assert.deepEqual(await Promise.all(pulls), [ids[0], null, ids[1], null, ids[2]]);
    await srv.stop();
  });
});
