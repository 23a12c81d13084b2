// The job id index across restarts: SIGTERM, and kill -9 (it continues from
// its marker and catches up with the log).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll, startServer, type TestServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

async function historyOf(server: TestServer, id: string): Promise<any> {
  const r = await server.request('GET', `/jobs/${encodeURIComponent(id)}/history`);
  assert.equal(r.status, 200, r.describe);
  return r.json;
}

function logLines(server: TestServer, msg: string): any[] {
  return server
    .output(1 << 20)
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}`))
    .map((l) => JSON.parse(l));
}

async function caughtUp(server: TestServer): Promise<any> {
  return waitFor(() => logLines(server, 'job index caught up with the log')[0], 10_000);
}

/** Pushes, pulls and acks `count` jobs of `queue`; returns their ids. */
async function complete(server: TestServer, queue: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await server.push(queue, { data: { i } });
    const { token } = await server.pull(queue);
    assert.equal((await server.ack(id, { token })).status, 200);
    ids.push(id);
  }
  return ids;
}

describe('job index across restarts', () => {
  it('answers the same after a SIGTERM restart and after kill -9 (the index catches up from its marker)', async () => {
    let server = await startServer();
    const ids = await complete(server, 'dur', 20);
    const before = new Map<string, any>();
    for (const id of ids) before.set(id, await historyOf(server, id));
    await server.stop();
    server = await server.restart();
    const first = await caughtUp(server);
    assert.ok(first.indexedThrough >= 60, `indexed through ${first.indexedThrough}`);
    for (const id of ids) assert.deepEqual(await historyOf(server, id), before.get(id));

    // More work, then kill -9 right after the last answer: the index is likely behind.
    const more = await complete(server, 'dur', 20);
    for (const id of more) before.set(id, await historyOf(server, id));
    await server.kill();
    server = await server.restart();
    const second = await caughtUp(server);
    assert.ok(second.from <= second.indexedThrough);
    assert.ok(second.indexedThrough >= 120, `indexed through ${second.indexedThrough}`);
    for (const id of [...ids, ...more]) assert.deepEqual(await historyOf(server, id), before.get(id), id);
    await server.stop();
  });

  it('a damaged index is rebuilt from the log instead of stopping the server', async () => {
    let server = await startServer();
    const ids = await complete(server, 'dmg', 5);
    const before = await Promise.all(ids.map((id) => historyOf(server, id)));
    await server.stop();
    await writeFile(join(server.dataDir, 'index', 'CURRENT'), 'garbage\n');
    server = await server.restart();
    await caughtUp(server);
    assert.ok(logLines(server, 'job index: cannot open it; rebuilding it from the log').length === 1);
    assert.deepEqual(await Promise.all(ids.map((id) => historyOf(server, id))), before);
    await server.stop();
  });
});
