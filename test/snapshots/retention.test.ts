// Retention: finished jobs leave memory by logged evict entries (so a restart
// agrees), and log segments go only when old enough and covered by a kept snapshot.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanupAll, completeJobs, pool, startServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

describe('retention', () => {
  it('COMPLETED_MAX keeps memory bounded; the evictions are in the log, so a restart agrees', async () => {
    let server = await startServer({ env: { COMPLETED_MAX: '10' } });
    const ids = await completeJobs(server, 'ret', 30);
    const present = async () => {
      const kept: string[] = [];
      for (const id of ids) if ((await server.getRaw(id)).status === 200) kept.push(id);
      return kept;
    };
    const kept = await waitFor(async () => {
      const now = await present();
      return now.length <= 10 ? now : null;
    }, 3000);
    assert.ok(kept);
    assert.ok(kept.length >= 9, `kept ${kept.length}`);
    assert.deepEqual(kept, ids.slice(ids.length - kept.length), 'the newest stay, the oldest go');
    await new Promise((r) => setTimeout(r, 60));
    await server.kill();
    server = await server.restart();
    assert.deepEqual(await present(), kept);
    await server.stop();
  });

  it('log segments past LOG_RETENTION_MS are deleted only up to the oldest kept snapshot; restart still works', async () => {
    const env = { LOG_RETENTION_MS: '0', WAL_SEGMENT_BYTES: '65536', SNAPSHOT_INTERVAL_MS: '250', SNAPSHOT_KEEP: '1' };
    let server = await startServer({ env });
    const filler = 'x'.repeat(300);
    const ids = await pool(
      Array.from({ length: 1500 }, (_, i) => i),
      16,
      (i) => server.push('seg', { data: { i, filler } }),
    );
    const deletions = await waitFor(() => {
      const lines = server.logLines('log segments past retention deleted');
      return lines.length > 0 ? lines : null;
    }, 8000);
    assert.ok(deletions);
    const snapshots = server.logLines('snapshot written').map((l) => l.position);
    const firstPosition = deletions[deletions.length - 1].firstPosition;
    assert.ok(firstPosition > 1);
    assert.ok(snapshots.some((p) => firstPosition <= p + 1), 'the log still starts at or before a kept snapshot');
    const wal = await readdir(join(server.dataDir, 'wal'));
    assert.ok(wal.length >= 1);
    await new Promise((r) => setTimeout(r, 60)); // non-durable pushes reach disk with the next group commit
    await server.kill();

    server = await server.restart({ env: { SNAPSHOT_INTERVAL_MS: '600000' } });
    for (const id of [ids[0], ids[700], ids[1499]]) assert.equal((await server.getJob(id)).state, 'waiting');
    const { job } = await server.pull('seg');
    assert.equal(job?.id, ids[0], 'FIFO order survives: the oldest job comes first');
    await server.stop();
  });
});
