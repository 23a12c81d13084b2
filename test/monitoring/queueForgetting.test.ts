// Queues are forgotten once no job of theirs is left (defect 10 of issue 9): distinct queue
// names used to leak per-queue structures and Prometheus series forever. Here 1 000 queues
// each get a job that is pulled, acked and evicted (COMPLETED_MAX=0); then /prometheus lists
// none of them and the server's queue count (/heapstats) is back to its baseline; a queue
// used again works as new, and a queue that still holds jobs stays listed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, pool, qname, startServer, waitFor, type TestServer } from '../support/testServer.ts';

const QUEUES = 1000;

let srv: TestServer;

before(async () => {
  srv = await startServer({ env: { COMPLETED_MAX: '0' } });
});
after(async () => {
  await cleanupAll();
});

async function queueCount(): Promise<number> {
  const r = await srv.request('GET', '/heapstats');
  assert.equal(r.status, 200, r.describe);
  return r.json.topObjectTypes.find((t: { type: string }) => t.type === 'Queue').count;
}

async function prometheus(): Promise<string> {
  const r = await srv.request('GET', '/prometheus');
  assert.equal(r.status, 200, r.describe);
  return r.text;
}

describe('queues without jobs are forgotten', () => {
  it(`${QUEUES} queues used once and emptied leave no series and no per-queue state behind`, async () => {
    const kept = qname('kept');
    await srv.push(kept, { data: 'stays', delay: 600_000 });
    const baseline = await queueCount();
    assert.equal(baseline, 1);

    const prefix = qname('gone');
    const names = Array.from({ length: QUEUES }, (_, i) => `${prefix}-${i}`);
    await pool(names, 16, async (queue) => {
      const id = await srv.push(queue, { data: queue });
      const lease = await srv.pull(queue);
      assert.equal(lease.job?.id, id);
      const ack = await srv.ack(id, { token: lease.token });
      assert.equal(ack.status, 200, ack.describe);
    });
    // Evictions are the scheduler's: wait until every completed job is gone.
    await waitFor(async () => (await queueCount()) === baseline, 10_000, 50);

    const text = await prometheus();
    assert.ok(!text.includes(prefix), 'a forgotten queue still has series');
    assert.match(text, new RegExp(`bunqueue_queue_jobs_delayed\\{queue="${kept}"\\} 1`));
    const stats = await srv.request('GET', '/stats');
    assert.equal(stats.status, 200, stats.describe);
    assert.equal(stats.json.stats.delayed, 1);
    assert.equal(stats.json.stats.completed, 0);

    // A forgotten queue used again works as any new queue.
    const again = names[0];
    const id = await srv.push(again, { data: 'again', priority: 1 });
    await srv.push(again, { data: 'later' });
    assert.match(await prometheus(), new RegExp(`bunqueue_queue_jobs_waiting\\{queue="${again}"\\} 2`));
    assert.equal((await srv.pull(again)).job?.id, id);
    assert.equal(await queueCount(), baseline + 1);
  });
});
