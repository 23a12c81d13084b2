// Pull order inside a queue: priority desc; at equal priority LIFO jobs first
// (newest first), then FIFO by runAt, then push order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, qname, sleep, startServer, type TestServer } from '../support/testServer.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});
after(async () => {
  await cleanupAll();
});

/** Pulls until empty and returns the `data` of each job in order. */
async function drain(q: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (;;) {
    const p = await srv.pull(q);
    if (!p.job) return out;
    out.push(p.job.data);
    if (out.length > 1000) throw new Error('drain: runaway');
  }
}

describe('ordering', () => {
  it('FIFO by push order at equal priority', async () => {
    const q = qname('ord');
    const n = 40;
    for (let i = 0; i < n; i++) await srv.push(q, { data: i }); // many share a millisecond
    assert.deepEqual(await drain(q), Array.from({ length: n }, (_, i) => i));
  });

  it('highest priority first; equal priorities in push order', async () => {
    const q = qname('ord');
    const spec: Array<[string, number]> = [['p1', 1], ['p5a', 5], ['p3', 3], ['pneg', -2], ['p5b', 5], ['p0', 0], ['p3b', 3], ['p2.5', 2.5]];
    for (const [data, priority] of spec) await srv.push(q, { data, priority });
    assert.deepEqual(await drain(q), ['p5a', 'p5b', 'p3', 'p3b', 'p2.5', 'p1', 'p0', 'pneg']);
  });

  it('at equal priority: LIFO jobs first, newest first, then FIFO jobs oldest first', async () => {
    const q = qname('ord');
    for (const [data, lifo] of [['f1', false], ['l1', true], ['f2', false], ['l2', true], ['l3', true], ['f3', false]] as const) {
      await srv.push(q, { data, lifo });
    }
    assert.deepEqual(await drain(q), ['l3', 'l2', 'l1', 'f1', 'f2', 'f3']);
  });

  it('priority beats LIFO', async () => {
    const q = qname('ord');
    await srv.push(q, { data: 'fifo-high', priority: 1 });
    await srv.push(q, { data: 'lifo-low', lifo: true });
    await srv.push(q, { data: 'lifo-high', lifo: true, priority: 1 });
    await srv.push(q, { data: 'fifo-low' });
    assert.deepEqual(await drain(q), ['lifo-high', 'fifo-high', 'lifo-low', 'fifo-low']);
  });

  it('FIFO jobs go by runAt, then push order', async () => {
    const q = qname('ord');
    const t0 = Date.now();
    await srv.push(q, { data: 'A', delay: 150 }); // runAt ≈ t0+150
    await sleep(Math.max(0, t0 + 40 - Date.now()));
    await srv.push(q, { data: 'B', delay: 40 }); // runAt ≈ t0+80
    await srv.push(q, { data: 'C' }); // runAt ≈ t0+40
    await sleep(Math.max(0, t0 + 110 - Date.now()));
    await srv.push(q, { data: 'D' }); // runAt ≈ t0+110
    await sleep(Math.max(0, t0 + 220 - Date.now()));
    assert.deepEqual(await drain(q), ['C', 'B', 'D', 'A']);
  });

  it('a due high-priority delayed job overtakes older low-priority jobs', async () => {
    const q = qname('ord');
    await srv.push(q, { data: 'low-1' });
    await srv.push(q, { data: 'high-delayed', priority: 10, delay: 80 });
    assert.equal((await srv.pull(q)).job?.data, 'low-1', 'the delayed job is not ready yet');
    await srv.push(q, { data: 'low-2' });
    await sleep(140);
    assert.deepEqual(await drain(q), ['high-delayed', 'low-2']);
  });

  it('a retried job (backoff 0) keeps its priority', async () => {
    const q = qname('ord');
    const hi = await srv.push(q, { data: 'hi', priority: 5, backoff: 0 });
    await srv.push(q, { data: 'lo' });
    const p = await srv.pull(q);
    assert.equal(p.job?.id, hi);
    await srv.fail(hi, { token: p.token, error: 'x' });
    assert.deepEqual(await drain(q), ['hi', 'lo']);
  });
});
