// Job history after snapshot + log retention deleted the oldest segments:
// what is left is shown, and truncatedBefore says where the log starts now.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll, completeJobs, pool, sleep, startServer, waitFor } from '../support/testServer.ts';
import { caughtUp, historyOf } from './historyClient.ts';

after(async () => {
  await cleanupAll();
});

describe('job history and log retention', () => {
  it('after retention deleted the oldest segments: truncatedBefore names the first retained position, before and after a restart', async () => {
    const env = { LOG_RETENTION_MS: '0', WAL_SEGMENT_BYTES: '65536', SNAPSHOT_INTERVAL_MS: '250', SNAPSHOT_KEEP: '1' };
    let server = await startServer({ env });
    const [gone] = await completeJobs(server, 'old', 1);
    const halfId = await server.push('half', { data: 'h' });
    const half = await server.pull('half');
    const filler = 'x'.repeat(400);
    await pool(
      Array.from({ length: 900 }, (_, i) => i),
      16,
      (i) => server.push('fill', { data: { i, filler } }),
    );
    await waitFor(() => server.logLines('log segments past retention deleted').length > 0, 10_000);
    assert.equal((await server.ack(halfId, { token: half.token, result: 'late' })).status, 200);
    const check = async () => {
      const firstPosition = server.logLines('log segments past retention deleted').at(-1)?.firstPosition;
      const g = await historyOf(server, gone);
      assert.equal(typeof g.truncatedBefore, 'number');
      assert.ok(firstPosition === undefined || g.truncatedBefore >= firstPosition);
      assert.deepEqual(g.entries, [], 'all of its entries were deleted, the job is still known');
      const h = await historyOf(server, halfId);
      // Retention goes on (a snapshot every 250 ms): the log may have moved on between the two reads.
      assert.ok(h.truncatedBefore >= g.truncatedBefore);
      assert.deepEqual(h.entries.map((e: any) => e.type), ['ack'], 'only what the log still holds');
      assert.ok(h.entries[0].position >= h.truncatedBefore);
      const a = await server.request('GET', `/jobs/${halfId}/attempts`);
      assert.equal(a.status, 200, a.describe);
      assert.ok(a.json.truncatedBefore >= h.truncatedBefore);
    };
    await check();
    await sleep(100);
    await server.stop();
    server = await server.restart({ env: { SNAPSHOT_INTERVAL_MS: '600000' } });
    await caughtUp(server);
    await check();
    await server.stop();
  });
});
