// Defect 2: the data directory's lock is a kernel lock (LevelDB's fcntl lock
// on DATA_DIR/server.lock/LOCK), not a pid file. A pid file left behind by
// an older version, empty or naming a live unrelated process, must not block
// a start; a second server on the same directory must fail fast, naming the
// directory, while the first keeps serving; and the lock must go with the
// process that held it, kill -9 included.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll, makeTempDir, qname, startServer } from '../support/testServer.ts';

after(() => cleanupAll());

describe('DATA_DIR lock', () => {
  it('a LOCK pid file left by an older version, empty (crash) or naming a live unrelated process, does not block start-up', async () => {
    const emptyLock = makeTempDir();
    // The old lock read this as pid 0, which kill(0, 0) reports as alive: blocked forever.
    writeFileSync(join(emptyLock, 'LOCK'), '');
    const liveLock = makeTempDir();
    writeFileSync(join(liveLock, 'LOCK'), String(process.pid));
    const servers = await Promise.all([startServer({ dataDir: emptyLock }), startServer({ dataDir: liveLock })]);
    for (const server of servers) assert.equal((await server.request('GET', '/ready')).status, 200);
    await Promise.all(servers.map((server) => server.stop()));
  });

  it('a second server on the same directory exits at once with an error naming it; the first keeps serving; after kill -9 of the first a new one starts', async () => {
    const first = await startServer();
    const queue = qname('lock');
    const before = await first.push(queue, { data: { n: 1 }, durable: true });

    const started = performance.now();
    await assert.rejects(startServer({ dataDir: first.dataDir }), (err: Error) => {
      assert.match(err.message, /server exited before listening \(code=1 /);
      assert.ok(err.message.includes(`DATA_DIR ${first.dataDir} is in use by another ledgerq server`), err.message);
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms < 10_000, `the second server took ${Math.round(ms)} ms to give up`);

    // The first one was not disturbed: it still answers and still writes.
    assert.equal((await first.request('GET', '/ready')).status, 200);
    const afterRefusal = await first.push(queue, { data: { n: 2 }, durable: true });
    assert.equal((await first.getJob(afterRefusal)).data.n, 2);

    // The kernel drops the lock with the process, however it dies.
    await first.kill();
    const next = await first.restart();
    assert.equal((await next.getJob(before)).data.n, 1);
    assert.equal((await next.getJob(afterRefusal)).data.n, 2);
    await next.stop();
  });
});
