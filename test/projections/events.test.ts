import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideAck } from '../../src/domain/decideAck.ts';
import { decideCancel } from '../../src/domain/decideCancel.ts';
import { decideFail } from '../../src/domain/decideFail.ts';
import { decidePull } from '../../src/domain/decidePull.ts';
import type { Entry } from '../../src/domain/entries.ts';
import { decodeEntry, encodeEntry, PAYLOAD_VERSION } from '../../src/domain/entryCodec.ts';
import { eventsOf } from '../../src/projections/jobEvents.ts';
import { Harness } from '../domain/fixtures.ts';

/** Collects the events of every entry decided, the way the bus would publish them. */
function recording(h: Harness) {
  const events: Array<Record<string, unknown>> = [];
  const apply = h.state.apply.bind(h.state);
  h.state.apply = (entry: Entry, position: number) => {
    apply(entry, position);
    for (const event of eventsOf(entry)) events.push(event);
  };
  return events;
}

test('each transition emits the contract event with its extra fields', () => {
  const h = new Harness();
  const events = recording(h);
  const id = h.push('q', { data: { n: 1 }, backoff: 50, maxAttempts: 2 });
  h.push('q', { data: 2, jobId: id });
  h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decideFail(v, id, undefined, 'boom', c));
  const delayed = h.push('q', { data: 3, delay: 1000 });
  h.run((v, c) => decideCancel(v, delayed, c));
  const base = { queue: 'q', timestamp: h.now };
  assert.deepEqual(events, [
    { eventType: 'pushed', ...base, jobId: id, data: { n: 1 } },
    { eventType: 'duplicated', ...base, jobId: id },
    { eventType: 'pulled', ...base, jobId: id },
    { eventType: 'drained', ...base, jobId: id },
    { eventType: 'failed', ...base, jobId: id, error: 'boom' },
    { eventType: 'retried', ...base, jobId: id, prev: 'active' },
    { eventType: 'delayed', ...base, jobId: id, delay: 50 },
    { eventType: 'pushed', ...base, jobId: delayed, data: 3 },
    { eventType: 'delayed', ...base, jobId: delayed, delay: 1000 },
    { eventType: 'removed', ...base, jobId: delayed, prev: 'delayed' },
  ]);
});

test('completion and dependency waits emit completed and waiting-children', () => {
  const h = new Harness();
  const events = recording(h);
  const parent = h.push('q', {});
  h.push('q', { dependsOn: [parent] });
  h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decideAck(v, parent, undefined, 'r', c));
  assert.deepEqual(
    events.map((e) => e.eventType),
    ['pushed', 'pushed', 'waiting-children', 'pulled', 'drained', 'completed'],
  );
});

test('entries survive the record codec unchanged', () => {
  const h = new Harness();
  const entries: Entry[] = [];
  const apply = h.state.apply.bind(h.state);
  h.state.apply = (entry, position) => {
    entries.push(entry);
    apply(entry, position);
  };
  const id = h.push('q', { data: { deep: [1, 'two', null] }, tags: ['t'], repeat: { every: 5 } });
  h.run((v, c) => decidePull(v, 'q', c));
  h.run((v, c) => decideFail(v, id, undefined, 'e', c));
  for (const entry of entries) {
    const { type, payload } = encodeEntry(entry);
    // Decoded: the payload version, and the actor (none here: no ledger stamped one).
    assert.deepEqual(decodeEntry(type, payload), { ...entry, v: PAYLOAD_VERSION, by: entry.by ?? null });
  }
  assert.throws(() => decodeEntry(250, new Uint8Array()), /Unknown log entry type 250/);
});
