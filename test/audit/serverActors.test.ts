// The server's own decisions are attributed to it, with the reason that
// caused them: lease expired, timeout, ttl, delay due, retention, repeat,
// connection closed. Cascades the scheduler decides share their root's reason.
// Read back from the server's log on disk.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { actorOf } from '../../src/domain/actor.ts';
import { entriesOf, type Logged, loggedEntries } from '../support/loggedEntries.ts';
import { cleanupAll, qname, startServer, type TestServer, waitFor } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer({ env: { LOCK_TTL_MS: '600', COMPLETED_RETENTION_MS: '300' } });
});
after(async () => {
  await cleanupAll();
});

/** Job `id`'s entries as [type, actor], once `count` of them are in the log. */
async function actorsOf(id: string, count: number): Promise<Array<[string, unknown]>> {
  let entries: Logged[] = [];
  await waitFor(async () => (entries = entriesOf(await loggedEntries(srv.dataDir), id)).length >= count, 5000, 25);
  return entries.map((e): [string, unknown] => [e.type, actorOf(e)]);
}

const server = (reason: string) => ({ kind: 'server', reason });

describe('server decisions', () => {
  it('lease expired: a stall', async () => {
    const q = qname('stall');
    const id = await srv.push(q, { data: 1, maxAttempts: 1 });
    await srv.pull(q);
    const actors = await actorsOf(id, 3);
    assert.deepEqual(actors[2], ['fail', server('lease expired')]);
  });

  it('timeout', async () => {
    const q = qname('timeout');
    const id = await srv.push(q, { data: 1, timeout: 200, maxAttempts: 1 });
    await srv.pull(q);
    assert.deepEqual((await actorsOf(id, 3))[2], ['fail', server('timeout')]);
  });

  it('ttl, and the dependents it fails', async () => {
    const q = qname('ttl');
    const id = await srv.push(q, { data: 1, ttl: 200 });
    const dependent = await srv.push(q, { data: 2, dependsOn: [id] });
    assert.deepEqual((await actorsOf(id, 2))[1], ['fail', server('ttl')]);
    assert.deepEqual((await actorsOf(dependent, 2))[1], ['fail', server('ttl')]);
  });

  it('delay due', async () => {
    const q = qname('delay');
    const id = await srv.push(q, { data: 1, delay: 150 });
    assert.deepEqual((await actorsOf(id, 2))[1], ['promote', server('delay due')]);
  });

  it('retention, after the request that completed the job', async () => {
    const q = qname('retention');
    const id = await srv.push(q, { data: 1 });
    const { token } = await srv.pull(q);
    assert.equal((await srv.ack(id, { token })).status, 200);
    const actors = await actorsOf(id, 4);
    // No AUTH_TOKENS: requests are attributed to no token.
    assert.equal((actors[2]?.[1] as { token: unknown }).token, null);
    assert.deepEqual(actors[3], ['evict', server('retention')]);
  });

  it('repeat: the next occurrence', async () => {
    const q = qname('repeat');
    const id = await srv.push(q, { data: 1, repeat: { every: 60_000, limit: 2 } });
    const { token } = await srv.pull(q);
    assert.equal((await srv.ack(id, { token })).status, 200);
    let next: Logged | undefined;
    await waitFor(async () => (next = (await loggedEntries(srv.dataDir)).find((e) => e.type === 'push' && e.queue === q && e.jobId !== id)), 5000, 25);
    assert.deepEqual(actorOf(next as Logged), server('repeat'));
  });

  it('connection closed: the jobs a closed WebSocket held', async () => {
    const q = qname('release');
    const id = await srv.push(q, { data: 1 });
    const ws = await WsTestClient.connect(srv.port, `/ws/queues/${q}`);
    assert.equal((await ws.request({ cmd: 'PULL', queue: q })).job?.id, id);
    ws.close();
    await ws.closed;
    assert.deepEqual((await actorsOf(id, 3))[2], ['release', server('connection closed')]);
  });
});
