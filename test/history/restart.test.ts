// The job id index across restarts: SIGTERM, and kill -9 (it continues from
// its marker and catches up with the log).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll, completeJobs, startServer } from '../support/testServer.ts';
import { caughtUp, historyOf } from './historyClient.ts';

after(async () => {
  await cleanupAll();
});

describe('job index across restarts', () => {
  it('answers the same after a SIGTERM restart and after kill -9 (the index catches up from its marker)', async () => {
    let server = await startServer();
    const ids = await completeJobs(server, 'dur', 20);
    const before = new Map<string, any>();
    for (const id of ids) before.set(id, await historyOf(server, id));
    await server.stop();
    server = await server.restart();
    const first = await caughtUp(server);
    assert.ok(first.indexedThrough >= 60, `indexed through ${first.indexedThrough}`);
    for (const id of ids) assert.deepEqual(await historyOf(server, id), before.get(id));

    // More work, then kill -9 right after the last answer: the index is likely behind.
    const more = await completeJobs(server, 'dur', 20);
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
    const ids = await completeJobs(server, 'dmg', 5);
    const before = await Promise.all(ids.map((id) => historyOf(server, id)));
    await server.stop();
    await writeFile(join(server.dataDir, 'index', 'CURRENT'), 'garbage\n');
    server = await server.restart();
    await caughtUp(server);
    assert.ok(server.logLines('job index: cannot open it; rebuilding it from the log').length === 1);
    assert.deepEqual(await Promise.all(ids.map((id) => historyOf(server, id))), before);
    await server.stop();
  });
});
