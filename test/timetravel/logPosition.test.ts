// GET /log/position and the edges of every point-in-time endpoint: empty log,
// times and positions outside the retained log (400 naming the range), bad
// parameters, auth, and a log trimmed by retention (400 naming the range that
// can be rebuilt).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll, qname, sleep, startServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

describe('GET /log/position', () => {
  it('maps a time to the first position at or after it, with the retained range; outside it answers 400 naming the range', async () => {
    const server = await startServer();
    const empty = await server.request('GET', `/log/position?at=${Date.now()}`);
    assert.equal(empty.status, 400, empty.describe);
    assert.equal(empty.json.ok, false);
    assert.match(empty.json.error, /empty/);

    const queue = qname('pos');
    const times: Array<{ before: number; id: string }> = [];
    for (let i = 0; i < 5; i++) {
      await sleep(5);
      const before = Date.now();
      await sleep(2);
      times.push({ before, id: await server.push(queue, { data: { i } }) });
    }
    // Before the first entry: outside the retained log.
    const early = await server.request('GET', `/log/position?at=${times[0].before}`);
    assert.equal(early.status, 400, early.describe);
    assert.match(early.json.error, /outside the retained log/);
    const found: any[] = [];
    for (const { before } of times.slice(1)) {
      const res = await server.request('GET', `/log/position?at=${before}`);
      assert.equal(res.status, 200, res.describe);
      found.push(res.json);
    }
    // Each push is one entry: the first entry after the moment before push i is push i.
    const first = found[0].first;
    assert.equal(first.position, 1);
    assert.deepEqual(
      found.map((f) => f.position),
      [2, 3, 4, 5],
    );
    for (const f of found) {
      assert.ok(f.time >= f.at, 'the position found is at or after the time asked');
      assert.deepEqual(Object.keys(f.first).sort(), ['position', 'time']);
      assert.equal(f.last.position, 5);
    }
    // The exact time of an entry finds that entry; ISO 8601 works the same.
    const exact = await server.request('GET', `/log/position?at=${found[2].time}`);
    assert.equal(exact.json.position, found[2].position);
    const iso = await server.request('GET', `/log/position?at=${new Date(found[2].time).toISOString()}`);
    assert.equal(iso.json.position, found[2].position);

    for (const at of [first.time - 1, found[3].last.time + 1]) {
      const res = await server.request('GET', `/log/position?at=${at}`);
      assert.equal(res.status, 400, res.describe);
      assert.match(res.json.error, /outside the retained log: positions \d+ \(.*\) to \d+/);
      assert.deepEqual(res.json.first, first);
      assert.equal(res.json.last.position, 5);
    }
    for (const bad of ['', 'yesterday', '12abc', '2026-13-45T99:00:00Z', '-5']) {
      const res = await server.request('GET', `/log/position?at=${encodeURIComponent(bad)}`);
      assert.equal(res.status, 400, res.describe);
      assert.equal(res.json.ok, false);
    }
    const twice = await server.request('GET', `/log/position?at=${first.time}&at=${first.time}`);
    assert.equal(twice.status, 400, twice.describe);
    const missing = await server.request('GET', '/log/position');
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'at is required');
  });

  it('point-in-time reads refuse bad or out-of-range points with 400, never 500, and need the token', async () => {
    const server = await startServer({ env: { AUTH_TOKENS: 'secret' } });
    const auth = { authorization: 'Bearer secret' };
    const queue = qname('edge');
    const push = await server.request('POST', `/queues/${queue}/jobs`, { data: 1 }, auth);
    const id = push.json.id;
    await sleep(5);
    const cases: Array<[string, RegExp]> = [
      [`/jobs/${id}?at=${Date.now() + 60_000}`, /in the future/],
      [`/jobs/${id}?at=1000`, /before the retained log/],
      [`/jobs/${id}?position=0`, /position must be/],
      [`/jobs/${id}?position=99`, /outside the retained log/],
      [`/jobs/${id}?position=1&at=${Date.now()}`, /either at or position/],
      [`/queues/${queue}/state`, /at or position is required/],
      [`/queues/${queue}/state?position=1&limit=0`, /limit/],
      [`/queues/${queue}/state?position=1&cursor=zz`, /cursor/],
      [`/queues/bad%20name/state?position=1`, /queue name/],
      [`/queues/${queue}/changes?from=${Date.now()}`, /to is required/],
      [`/queues/${queue}/changes?from=${Date.now()}&to=${Date.now() - 1000}`, /not be before/],
      [`/queues/${queue}/changes?cursor=5:0:1`, /cursor/],
      [`/queues?at=soon`, /at must be/],
    ];
    for (const [path, error] of cases) {
      const res = await server.request('GET', path, undefined, auth);
      assert.equal(res.status, 400, res.describe);
      assert.match(res.json.error, error, res.describe);
    }
    for (const path of [`/log/position?at=${Date.now()}`, `/jobs/${id}?position=1`, `/queues/${queue}/state?position=1`, `/queues?at=${Date.now()}`]) {
      const res = await server.request('GET', path);
      assert.equal(res.status, 401, res.describe);
    }
    const ok = await server.request('GET', `/jobs/${id}?position=1`, undefined, auth);
    assert.equal(ok.status, 200, ok.describe);
    assert.deepEqual(ok.json.at, { position: 1, time: ok.json.job.createdAt });
    const unknown = await server.request('GET', `/jobs/nope?position=1`, undefined, auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error, 'Job not found');
  });

  it('after retention trimmed the log, a point before the oldest snapshot answers 400 naming what can be rebuilt', async () => {
    const env = { LOG_RETENTION_MS: '0', WAL_SEGMENT_BYTES: '65536', SNAPSHOT_INTERVAL_MS: '600000', SNAPSHOT_EVERY_ENTRIES: '100', SNAPSHOT_KEEP: '1' };
    const server = await startServer({ env });
    const queue = qname('trim');
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) ids.push(await server.push(queue, { data: { i, pad: 'x'.repeat(1000) } }));
    // The last snapshot (at 400, the only one kept) is logged, then the older one pruned, then the log trimmed
    // up to it: wait for that trim, or the range read below may still be the one snapshot 300 allowed.
    await waitFor(() => server.logLines('log segments past retention deleted').some((line) => line.firstPosition > 300), 10_000).catch((e) => {
      throw new Error(`${e.message}\n${server.output(1 << 16)}`);
    });
    const range = await server.request('GET', '/log/position?at=0');
    assert.equal(range.status, 400);
    const { first, last } = range.json;
    assert.ok(first.position > 1, `the log was trimmed: ${JSON.stringify(range.json)}`);

    assert.equal(last.position, 400);
    // Retained but before the only snapshot kept: the log alone cannot rebuild it.
    const before = await server.request('GET', `/jobs/${ids[0]}?position=${first.position}`);
    assert.equal(before.status, 400, before.describe);
    assert.match(before.json.error, /position \d+ cannot be rebuilt: the log and snapshots cover positions 400 to 400/);
    assert.deepEqual(before.json.rebuildable, { from: 400, to: 400 });
    const from = 400;

    const at = await server.request('GET', `/jobs/${ids[ids.length - 1]}?position=${last.position}`);
    assert.equal(at.status, 200, at.describe);
    // Every entry is a push: the state at position p holds p waiting jobs, the page lists them in push order.
    const state = await server.request('GET', `/queues/${queue}/state?position=${Math.max(from, first.position)}&limit=10000`);
    assert.equal(state.status, 200, state.describe);
    assert.equal(state.json.counts.waiting, Math.max(from, first.position));
    assert.deepEqual(state.json.jobs.waiting, ids.slice(0, Math.max(from, first.position)));
  });
});
