// The changes feed's scan against the whole projection: over random workloads
// (delays, retries, dependencies, removal on finish, cancels, releases, ttl,
// expired leases, retention), every entry's transitions as StateChangeScan
// reads them equal what applying the entry does to QueueProjection's jobs, for
// each queue; also for a scan started from a state halfway through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideDue } from '../../src/domain/decideDue.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { decideRelease } from '../../src/domain/decideRelease.ts';
import { type Entry, jobIdsOf } from '../../src/domain/entries.ts';
import type { JobState } from '../../src/domain/job.ts';
import { Pacer } from '../../src/projections/Pacer.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { StateChangeScan } from '../../src/projections/StateChangeScan.ts';
import { Harness } from '../domain/fixtures.ts';

const QUEUES = ['q0', 'q1'];

type Action = [kind: number, a: number, b: number];

/** Drives a harness with `actions`; refusals (a job that is not active, ...) are part of the game. */
function runWorkload(actions: Action[]): Harness {
  const h = new Harness();
  h.retention = { completedMs: 4_000, completedMax: 3, failedMs: 4_000, failedMax: 3 };
  const ids: string[] = [];
  const leases: Array<{ jobId: string; token: string }> = [];
  const attempt = (run: () => void) => {
    try {
      run();
    } catch {
      // A refused command writes nothing.
    }
  };
  for (const [kind, a, b] of actions) {
    const queue = QUEUES[a % 2] as string;
    switch (kind) {
      case 0: {
        const body: Record<string, unknown> = { maxAttempts: 1 + (b % 3), backoff: b % 2 === 0 ? 0 : 1_000 };
        if (b % 5 === 1) body.delay = 2_000;
        if (b % 7 === 2 && ids.length > 0) body.dependsOn = [ids[(a * 31) % ids.length]];
        if (b % 4 === 3) body.removeOnComplete = true;
        if (b % 6 === 4) body.removeOnFail = true;
        if (b % 9 === 5) body.ttl = 3_000;
        if (b % 11 === 6) body.jobId = `reused-${a % 3}`;
        attempt(() => void ids.push(h.push(queue, body)));
        break;
      }
      case 1:
        attempt(() => {
          const lease = h.run((v, c) => decidePull(v, queue, c));
          if (lease) leases.push(lease);
        });
        break;
      case 2:
      case 3: {
        const lease = leases.splice(a % Math.max(1, leases.length), 1)[0];
        if (lease) attempt(() => void h.run((v, c) => (kind === 2 ? decideAck(v, lease.jobId, lease.token, null, c) : decideFail(v, lease.jobId, lease.token, 'boom', c))));
        break;
      }
      case 4:
        if (ids.length > 0) attempt(() => void h.run((v, c) => decideCancel(v, ids[(a * 17 + b) % ids.length] as string, c)));
        break;
      case 5:
        attempt(() => void h.run((v, c) => decideRelease(v, leases.splice(0, 1 + (b % 2)), c)));
        break;
      default:
        h.now += (b % 4) * 1_000 + 500;
        attempt(() => void h.run((v, c) => decideDue(v, c)));
    }
  }
  return h;
}

/** The transitions applying `entry` makes to `state`'s jobs of `queue`, read off the state on both sides. */
function appliedTransitions(state: QueueProjection, entry: Entry, position: number, queue: string): Array<[string, JobState | null, JobState | null]> {
  const ids = jobIdsOf(entry);
  const before = ids.map((id) => {
    const job = state.job(id);
    return job ? { state: job.state, queue: job.queue } : undefined;
  });
  state.apply(entry, position);
  const out: Array<[string, JobState | null, JobState | null]> = [];
  ids.forEach((id, i) => {
    const was = before[i];
    const now = state.job(id);
    if ((was?.queue ?? now?.queue) !== queue) return;
    if (was === undefined) {
      if (now) out.push([id, null, now.state]);
      return;
    }
    if (now === undefined) {
      const finished = entry.type === 'ack' ? 'completed' : entry.type === 'fail' && entry.retryAt === null ? 'failed' : null;
      if (finished !== null && was.state !== finished) out.push([id, was.state, finished], [id, finished, null]);
      else out.push([id, was.state, null]);
      return;
    }
    if (now.state !== was.state) out.push([id, was.state, now.state]);
  });
  return out;
}

async function checkScan(h: Harness, startAt: number): Promise<number> {
  // One projection per queue: appliedTransitions applies the entry as it reads it.
  const states = QUEUES.map(() => new QueueProjection());
  let scan: StateChangeScan | undefined = startAt === 0 ? await StateChangeScan.of([], 0, new Pacer(8)) : undefined;
  let compared = 0;
  for (const [entry, position] of h.log) {
    if (scan === undefined && position > startAt) scan = await StateChangeScan.of((states[0] as QueueProjection).allJobs(), position - 1, new Pacer(8));
    QUEUES.forEach((queue, q) => {
      const expected = appliedTransitions(states[q] as QueueProjection, entry, position, queue);
      if (!scan) return;
      const got = scan.changesOf(entry, position, queue);
      assert.deepEqual(
        got.map((c) => [c.jobId, c.from, c.to]),
        expected,
        `${queue} at ${position} (${entry.type})`,
      );
      for (const change of got) {
        assert.equal(change.position, position);
        assert.equal(change.time, entry.at);
      }
      compared += got.length;
    });
    scan?.apply(entry, position);
  }
  return compared;
}

const actions = fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.nat(1_000), fc.nat(1_000)), { minLength: 20, maxLength: 300 });

test('the scan reads the same transitions as applying each entry to the whole state', async () => {
  let compared = 0;
  const kinds = new Set<string>();
  await fc.assert(
    fc.asyncProperty(actions, async (list) => {
      const h = runWorkload(list);
      for (const [entry] of h.log) kinds.add(entry.type);
      compared += await checkScan(h, 0);
    }),
    { seed: 20261208, numRuns: 150 },
  );
  assert.ok(compared > 1_000, `transitions compared: ${compared}`);
  for (const type of ['push', 'pull', 'ack', 'fail', 'cancel', 'release', 'promote', 'resolve', 'evict']) assert.ok(kinds.has(type), `the workloads wrote ${type} entries`);
});

test('a scan started from a rebuilt state halfway continues as one from the start', async () => {
  await fc.assert(
    fc.asyncProperty(actions, fc.double({ min: 0.1, max: 0.9, noNaN: true }), async (list, at) => {
      const h = runWorkload(list);
      await checkScan(h, Math.floor(h.log.length * at));
    }),
    { seed: 20261209, numRuns: 80 },
  );
});
