// A scripted run over three queues captures the live state (every job by
// GET /jobs/:id, every queue's counts, /stats) at several moments. Afterwards,
// and again after a restart, the point-in-time endpoints must give back each
// captured moment field by field, and `changes` between two moments must be
// exactly the difference of the two captured states. Snapshots are taken every
// few entries and by timer, so moments fall both on a snapshot and between a
// snapshot and the entries after it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll, qname, sleep, startServer, type TestServer, waitFor } from '../support/testServer.ts';

after(async () => {
  await cleanupAll();
});

const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed', 'waiting-children'] as const;
const zeroCounts = () => Object.fromEntries(STATES.map((s) => [s, 0]));

interface Moment {
  label: string;
  t: number;
  /** id → job view, null when GET answered 404. */
  jobs: Map<string, any | null>;
  queues: Record<string, Record<string, number>>;
  stats: any;
}

async function get(server: TestServer, path: string): Promise<any> {
  const res = await server.request('GET', path);
  assert.equal(res.status, 200, res.describe);
  return res.json;
}

/** The live state at a time no entry is decided near (nothing is due: delays and leases are minutes away). */
async function capture(server: TestServer, ids: Set<string>, label: string): Promise<Moment> {
  await sleep(30);
  const t = Date.now();
  await sleep(3);
  const jobs = new Map<string, any | null>();
  for (const id of ids) {
    const res = await server.getRaw(id);
    jobs.set(id, res.status === 200 ? res.json.job : null);
  }
  const queues = (await get(server, '/queues')).queues;
  const stats = (await get(server, '/stats')).stats;
  await sleep(3);
  return { label, t, jobs, queues, stats };
}

function snapshotPositions(server: TestServer): number[] {
  return server.logLines('snapshot written').map((l) => l.position as number);
}

/** Every point-in-time view of moment `m` equals what was captured live. */
async function verifyMoment(server: TestServer, m: Moment, queueNames: string[]): Promise<void> {
  const all = await get(server, `/queues?at=${m.t}`);
  assert.deepEqual(all.queues, m.queues, `${m.label}: GET /queues?at`);
  const position = all.at.position;
  const totals = zeroCounts() as Record<string, number>;
  for (const counts of Object.values(all.queues) as Record<string, number>[]) for (const s of STATES) totals[s] += counts[s];
  assert.deepEqual(
    { queued: totals.waiting, processing: totals.active, delayed: totals.delayed, dlq: totals.failed, completed: totals.completed },
    { queued: m.stats.queued, processing: m.stats.processing, delayed: m.stats.delayed, dlq: m.stats.dlq, completed: m.stats.completed },
    `${m.label}: totals against /stats`,
  );
  let first = true;
  for (const [id, live] of m.jobs) {
    // ISO 8601 and the position name the same point: checked on one job per moment.
    const queries: string[] = first ? [`at=${m.t}`, `at=${new Date(m.t).toISOString()}`, `position=${position}`] : [`at=${m.t}`];
    first = false;
    for (const query of queries) {
      const res = await server.request('GET', `/jobs/${encodeURIComponent(id)}?${query}`);
      if (live === null) {
        assert.equal(res.status, 404, `${m.label}: ${res.describe}`);
        continue;
      }
      assert.equal(res.status, 200, `${m.label}: ${res.describe}`);
      assert.deepEqual(res.json.job, live, `${m.label}: job ${id} ?${query}`);
      assert.equal(res.json.at.position, position);
    }
  }
  for (const queue of queueNames) {
    const expected = Object.fromEntries(STATES.map((s) => [s, [] as string[]]));
    for (const job of m.jobs.values()) if (job && job.queue === queue) expected[job.state].push(job.id);
    const seen = Object.fromEntries(STATES.map((s) => [s, [] as string[]]));
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await get(server, `/queues/${queue}/state?at=${m.t}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.deepEqual(page.counts, m.queues[queue] ?? zeroCounts(), `${m.label}: counts of ${queue}`);
      assert.equal(page.at.position, position);
      for (const s of STATES) seen[s].push(...page.jobs[s]);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    for (const s of STATES) assert.deepEqual(seen[s].sort(), expected[s].sort(), `${m.label}: ${queue} ${s} ids`);
  }
}

/** `changes` from a to b, every page, must turn a's job states into b's. */
async function verifyChanges(server: TestServer, a: Moment, b: Moment, queueNames: string[]): Promise<number> {
  let total = 0;
  for (const queue of queueNames) {
    const changes: any[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `cursor=${cursor}` : `from=${a.t}&to=${new Date(b.t).toISOString()}`;
      const page: any = await get(server, `/queues/${queue}/changes?${query}&limit=2`);
      assert.ok(page.changes.length <= 2, 'a page holds at most limit changes');
      changes.push(...page.changes);
      cursor = page.nextCursor;
    } while (cursor !== null);
    total += changes.length;
    const stateOf = (m: Moment, id: string) => {
      const job = m.jobs.get(id);
      return job && job.queue === queue ? job.state : null;
    };
    const current = new Map<string, string | null>();
    let lastPosition = 0;
    for (const change of changes) {
      assert.ok(change.position >= lastPosition, 'changes come in log order');
      lastPosition = change.position;
      assert.ok(change.time >= a.t && change.time <= b.t, `${change.time} is inside the window`);
      assert.ok('actor' in change);
      const before = current.has(change.jobId) ? current.get(change.jobId) : stateOf(a, change.jobId);
      assert.equal(change.from, before, `${a.label}→${b.label} ${queue}: ${JSON.stringify(change)} follows the job's state`);
      assert.notEqual(change.from, change.to);
      current.set(change.jobId, change.to);
    }
    for (const id of new Set([...a.jobs.keys(), ...b.jobs.keys()])) {
      const end = current.has(id) ? current.get(id) : stateOf(a, id);
      assert.equal(end, stateOf(b, id), `${a.label}→${b.label} ${queue}: job ${id} ends where ${b.label} saw it`);
    }
  }
  return total;
}

describe('point-in-time state', () => {
  it('gives back, field by field, the live state captured at each moment of a scripted run, before and after a restart', async () => {
    const env = { SNAPSHOT_EVERY_ENTRIES: '7', SNAPSHOT_INTERVAL_MS: '600000', SNAPSHOT_KEEP: '1000', COMPLETED_MAX: '2' };
    let server = await startServer({ env });
    const queues = [qname('tta'), qname('ttb'), qname('ttc')];
    const ids = new Set<string>();
    const moments: Moment[] = [];
    const byQueue = new Map<string, string[]>();
    const plainTokens = new Map<string, string>();

    // 1. pushes of every kind.
    for (const [n, queue] of queues.entries()) {
      const list: string[] = [];
      list.push(await server.push(queue, { data: { n, k: 'plain' }, priority: 5 }));
      list.push(await server.push(queue, { data: { k: 'retry' }, priority: 4, backoff: 0 }));
      list.push(await server.push(queue, { data: { k: 'retry-later' }, priority: 3, backoff: 600_000 }));
      list.push(await server.push(queue, { data: { k: 'dlq' }, priority: 2, maxAttempts: 1 }));
      list.push(await server.push(queue, { data: { k: 'remove' }, priority: 1, removeOnComplete: true }));
      list.push(await server.push(queue, { data: { k: 'later' }, delay: 600_000 }));
      list.push(await server.push(queue, { data: { k: 'child' }, dependsOn: [list[0]] }));
      list.push(await server.push(queue, { data: { k: 'cancel' }, tags: ['x'] }));
      for (const id of list) ids.add(id);
      byQueue.set(queue, list);
    }
    moments.push(await capture(server, ids, 'pushed'));

    // 2. work: pull five per queue (priority order: plain, retry, retry-later, dlq, remove); progress, fail and ack them.
    for (const queue of queues) {
      const leases = new Map<string, string>();
      for (let i = 0; i < 5; i++) {
        const { job, token } = await server.pull(queue);
        leases.set(job.data.k, token as string);
      }
      const [plain, retry, retryLater, dlq, remove] = byQueue.get(queue)!;
      assert.equal((await server.request('POST', `/jobs/${plain}/progress`, { progress: 40, message: 'half', token: leases.get('plain') })).status, 200);
      assert.equal((await server.fail(retry, { token: leases.get('retry'), error: 'boom' })).status, 200);
      assert.equal((await server.fail(retryLater, { token: leases.get('retry-later'), error: 'later' })).status, 200);
      assert.equal((await server.fail(dlq, { token: leases.get('dlq'), error: 'dead' })).status, 200);
      assert.equal((await server.ack(remove, { token: leases.get('remove'), result: 'gone' })).status, 200);
      plainTokens.set(queue, leases.get('plain') as string);
    }
    moments.push(await capture(server, ids, 'worked'));

    // 3. a moment exactly at a snapshot: push (lowest priority) until an entry starts one (every 7 entries), then nothing.
    await sleep(1000); // a snapshot being written finishes
    const lastSnapshot = Math.max(0, ...snapshotPositions(server));
    let last = (await get(server, `/queues?at=${Date.now()}`)).at.position;
    // The entry 7 past the last snapshot starts the next one (at once if the threshold was crossed while one was running).
    do {
      ids.add(await server.push(queues[0], { data: { k: 'filler', last }, priority: -1 }));
      last++;
    } while (last < lastSnapshot + 7);
    assert.equal((await get(server, `/queues?at=${Date.now()}`)).at.position, last);
    await waitFor(() => snapshotPositions(server).includes(last), 5000).catch(() => assert.fail(`no snapshot at ${last}: ${snapshotPositions(server)}`));
    moments.push(await capture(server, ids, 'on-a-snapshot'));

    // 4. finish: ack the plain job (its child resolves), cancel one, retry and finish the retried one.
    for (const queue of queues) {
      const [plain, retry, , , , , child, cancel] = byQueue.get(queue)!;
      assert.equal((await server.ack(plain, { token: plainTokens.get(queue), result: { done: true } })).status, 200);
      assert.equal((await server.cancel(cancel)).status, 200);
      const again = await server.pull(queue);
      assert.ok([retry, child].includes(again.job.id), `pulled ${again.job.data.k}`);
      assert.equal((await server.ack(again.job.id, { token: again.token })).status, 200);
    }
    moments.push(await capture(server, ids, 'finished'));

    // 5. more pushes after the completions evicted the oldest finished jobs (COMPLETED_MAX=2).
    for (const queue of queues) ids.add(await server.push(queue, { data: { k: 'late' } }));
    moments.push(await capture(server, ids, 'late'));

    const snapshots = snapshotPositions(server);
    assert.ok(snapshots.length >= 3, `snapshots were taken during the run: ${snapshots}`);
    const positions = await Promise.all(moments.map(async (m) => (await get(server, `/queues?at=${m.t}`)).at.position as number));
    assert.ok(positions.some((p) => !snapshots.includes(p)), `moments between a snapshot and the entries after it: ${positions} / ${snapshots}`);

    for (const m of moments) await verifyMoment(server, m, queues);
    let total = 0;
    for (let i = 0; i + 1 < moments.length; i++) total += await verifyChanges(server, moments[i], moments[i + 1], queues);
    total += await verifyChanges(server, moments[0], moments[moments.length - 1], queues);
    assert.ok(total > 40, `changes were found (${total})`);

    // After a restart the time index is rebuilt from the log and states from the snapshots on disk.
    assert.equal(await server.stop(), 0);
    server = await server.restart();
    for (const m of moments) await verifyMoment(server, m, queues);
    await verifyChanges(server, moments[0], moments[moments.length - 1], queues);
  });
});
