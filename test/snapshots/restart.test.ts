// Restart from a snapshot: newest valid snapshot + the log after it must give
// exactly the state a full replay gives, a damaged newest snapshot falls back,
// and SIGTERM leaves a snapshot at the last position.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Level } from 'level';
import { cleanupAll, startServer, type TestServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

interface Recovery {
  snapshot: number | null;
  entries: number;
  jobs: number;
}

/** The server's own account of how it rebuilt its state. */
function recoveryOf(server: TestServer): Recovery {
  const line = server
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"state recovered'));
  assert.ok(line, `no recovery line in:\n${server.output()}`);
  return JSON.parse(line);
}

function snapshotsWritten(server: TestServer): number {
  return server.output().split('\n').filter((l) => l.includes('"msg":"snapshot written"')).length;
}

/** Pushes, pulls, acks, fails and cancels; returns every id touched. */
async function workload(server: TestServer, queue: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(await server.push(queue, { data: { i }, priority: i % 3, groupId: `g${i % 4}`, delay: i % 10 === 0 ? 600_000 : 0, backoff: 600_000, uniqueKey: `k${i}` }));
  }
  for (let i = 0; i < count / 2; i++) {
    const { job, token } = await server.pull(queue);
    if (!job) break;
    if (i % 3 === 0) await server.ack(job.id, { token, result: { i } });
    else if (i % 3 === 1) await server.fail(job.id, { token, error: `e${i}` });
  }
  await server.cancel(ids[1]);
  return ids;
}

async function views(server: TestServer, ids: string[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const id of ids) {
    const res = await server.getRaw(id);
    out.set(id, res.status === 200 ? res.json.job : res.status);
  }
  return out;
}

describe('snapshots', () => {
  it('kill -9 after a snapshot: snapshot + tail replay gives every job back exactly, and the same pull order', async () => {
    // The clean stop leaves a snapshot; the second run adds a tail it does not hold.
    let server = await startServer({ env: { SNAPSHOT_INTERVAL_MS: '600000' } });
    const ids = await workload(server, 'snap', 120);
    assert.equal(await server.stop(), 0);
    server = await server.restart();
    ids.push(...(await workload(server, 'tail', 40)));
    const { job: leased } = await server.pull('snap');
    assert.ok(leased);
    const before = await views(server, ids);
    await new Promise((r) => setTimeout(r, 60)); // let the group commit flush the non-durable pushes
    await server.kill();

    server = await server.restart({ env: { SNAPSHOT_INTERVAL_MS: '600000' } });
    const recovery = recoveryOf(server);
    assert.ok(recovery.snapshot !== null && recovery.snapshot > 0, `restart did not use a snapshot: ${JSON.stringify(recovery)}`);
    assert.ok(recovery.entries > 0, 'the tail after the snapshot was replayed');
    assert.deepEqual(await views(server, ids), before);
    const fromSnapshot: string[] = [];
    for (;;) {
      const { job } = await server.pull('snap');
      if (!job) break;
      fromSnapshot.push(job.id);
    }
    await server.kill();

    // The same log without any snapshot: a full replay must agree job by job and in pull order.
    const { rm } = await import('node:fs/promises');
    await rm(join(server.dataDir, 'snapshots'), { recursive: true, force: true });
    server = await server.restart();
    assert.equal(recoveryOf(server).snapshot, null);
    // The previous run's pulls are in the log too: compare against that state.
    const replayed: string[] = [];
    for (const id of fromSnapshot) {
      const job = await server.getJob(id);
      assert.equal(job.state, 'active', 'pulled after the snapshot restart, so active after a full replay');
      replayed.push(id);
    }
    assert.deepEqual(replayed, fromSnapshot);
    await server.stop();
  });

  it('a damaged newest snapshot is skipped with a warning for an older one, and nothing is lost', async () => {
    let server = await startServer({ env: { SNAPSHOT_INTERVAL_MS: '200', SNAPSHOT_KEEP: '5' } });
    const ids = await workload(server, 'dmg', 40);
    await waitFor(() => snapshotsWritten(server) > 0 || undefined, 5000);
    ids.push(...(await workload(server, 'dmg2', 40)));
    await waitFor(() => snapshotsWritten(server) > 1 || undefined, 5000);
    const before = await views(server, ids);
    assert.equal(await server.stop(), 0);

    const db = new Level<string, string>(join(server.dataDir, 'snapshots'));
    const markers = await db.keys({ gte: 'm:', lt: 'm;' }).all();
    assert.ok(markers.length >= 2, `expected several snapshots, found ${markers.length}`);
    const newest = markers[markers.length - 1].slice(2);
    const record = (await db.keys({ gte: `r:${newest}:`, lt: `r:${newest};`, limit: 1 }).all())[0];
    await db.put(record, '{"damaged":true}');
    await db.close();

    server = await server.restart();
    const recovery = recoveryOf(server);
    assert.ok(recovery.snapshot !== null && recovery.snapshot < Number(newest), `used ${recovery.snapshot}, newest was ${Number(newest)}`);
    assert.match(server.output(), new RegExp(`skipping snapshot at position ${Number(newest)}`));
    assert.deepEqual(await views(server, ids), before);
    await server.stop();
  });

  it('SIGTERM writes a snapshot at the last position: the next start replays nothing', async () => {
    let server = await startServer({ env: { SNAPSHOT_INTERVAL_MS: '600000' } });
    const ids = await workload(server, 'term', 30);
    const before = await views(server, ids);
    assert.equal(await server.stop(), 0);
    server = await server.restart();
    const recovery = recoveryOf(server);
    assert.ok(recovery.snapshot !== null);
    assert.equal(recovery.entries, 0);
    assert.deepEqual(await views(server, ids), before);
    await server.stop();
  });
});
