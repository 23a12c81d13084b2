import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import { decideRelease } from '../../src/domain/decideRelease.ts';
import type { Entry } from '../../src/domain/entries.ts';
import { decodeEntry, encodeEntry, PAYLOAD_VERSION } from '../../src/domain/entryCodec.ts';
import { eventsOf } from '../../src/projections/jobEvents.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { Harness } from './fixtures.ts';

function pull(h: Harness, queue: string) {
  const lease = h.run((view, ctx) => decidePull(view, queue, ctx));
  assert.ok(lease, `nothing to pull from ${queue}`);
  return lease;
}

test('release returns an active job to waiting without consuming an attempt', () => {
  const h = new Harness();
  const id = h.push('q', { maxAttempts: 2, backoff: 0 });
  const lease = pull(h, 'q');
  h.run((v, c) => decideFail(v, id, lease.token, 'boom', c));
  const second = pull(h, 'q');
  const runAt = h.state.job(id)?.runAt;
  h.now += 50;
  const released = h.run((v, c) => decideRelease(v, [second], c));
  assert.deepEqual(released, [id]);
  const job = h.state.job(id);
  assert.equal(job?.state, 'waiting');
  assert.equal(job?.attempts, 1);
  assert.equal(job?.runAt, runAt);
  assert.equal(job?.token, null);
  assert.equal(job?.leaseUntil, null);
  assert.equal(h.state.countsOf('q').active, 0);
  assert.equal(h.state.nextDeadline(), null, 'no lease left to expire');
  assert.equal(pull(h, 'q').jobId, id, 'pullable again at once');
});

test('a released job keeps its place in line', () => {
  const h = new Harness();
  const first = h.push('q', {});
  const second = h.push('q', {});
  const lease = pull(h, 'q');
  assert.equal(lease.jobId, first);
  h.run((v, c) => decideRelease(v, [lease], c));
  assert.equal(h.state.nextReady('q')?.id, first);
  assert.equal(h.state.readyCount('q'), 2);
  assert.equal(h.state.job(second)?.state, 'waiting');
});

test('jobs no longer held by that lease are skipped', () => {
  const h = new Harness();
  const acked = h.push('q', {});
  const failed = h.push('q', {});
  const stolen = h.push('q', {});
  const kept = h.push('q', {});
  const leases = [pull(h, 'q'), pull(h, 'q'), pull(h, 'q'), pull(h, 'q')];
  h.run((v, c) => decideAck(v, acked, undefined, null, c));
  h.run((v, c) => decideFail(v, failed, undefined, 'x', c));
  // The lease of `stolen` expired and another worker holds it now: simulate with a token mismatch.
  const foreign = leases.map((l) => (l.jobId === stolen ? { ...l, token: 'other' } : l));
  const log = h.log.length;
  const released = h.run((v, c) => decideRelease(v, [...foreign, { jobId: 'unknown', token: 't' }, leases[3]!], c));
  assert.deepEqual(released, [kept], 'only the job still held, once');
  assert.equal(h.log.length, log + 1);
  assert.equal(h.state.job(stolen)?.state, 'active');
  assert.equal(h.state.job(acked)?.state, 'completed');
});

test('release emits retried with prev active, and survives the codec and replay', () => {
  const h = new Harness();
  const id = h.push('q', { data: 1 });
  const lease = pull(h, 'q');
  h.run((v, c) => decideRelease(v, [lease], c));
  const [entry, position] = h.log.at(-1) as [Entry, number];
  assert.equal(entry.type, 'release');
  assert.deepEqual(eventsOf(entry), [{ eventType: 'retried', queue: 'q', jobId: id, timestamp: h.now, prev: 'active' }]);
  const { type, payload } = encodeEntry(entry);
  assert.equal(type, 11, 'type code 11 is part of the on-disk format');
  assert.deepEqual(entry.by, { s: 'connection closed' }, 'the server released it');
  assert.deepEqual(decodeEntry(type, payload), { ...entry, v: PAYLOAD_VERSION });
  const replayed = new QueueProjection();
  for (const [e, p] of h.log) replayed.apply(decodeEntry(encodeEntry(e).type, encodeEntry(e).payload), p);
  assert.equal(replayed.position, position);
  assert.equal(replayed.job(id)?.state, 'waiting');
  assert.equal(replayed.job(id)?.attempts, 0);
});
