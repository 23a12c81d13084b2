import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePull } from '../../src/domain/decidePull.ts';
import { decidePush } from '../../src/domain/decidePush.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { parseEventCursor } from '../../src/projections/eventCursor.ts';
import { EventFeed, type FeedEvent, type FeedSink } from '../../src/projections/EventFeed.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { commandContext } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { faultyFiles } from '../log/faultyFiles.ts';
import { withTempDir } from '../log/helpers.ts';

const context = commandContext(30_000);

async function withFeed(fn: (ledger: Ledger, feed: EventFeed, log: SegmentedLog) => Promise<void>, replayChunk = 512) {
  await withTempDir(async (dir) => {
    const log = await SegmentedLog.open({ dir });
    const bus = new EventBus();
    const ledger = new Ledger(log, new QueueProjection(), bus);
    const feed = new EventFeed(bus, log, { replayChunk });
    try {
      await fn(ledger, feed, log);
    } finally {
      await log.close();
    }
  });
}

function push(ledger: Ledger, queue: string, data: unknown): void {
  const options = parsePushOptions({ data });
  assert.ok(options.ok);
  const outcome = ledger.run((view) => decidePush(view, queue, options.value, context()));
  assert.ok(outcome.ok);
}

/** A sink that records ids and events; `slow` makes every replay chunk wait a few ms (more events arrive meanwhile). */
function recorder(slow = false) {
  const seen: FeedEvent[] = [];
  let failed: string | null = null;
  const sink: FeedSink = {
    deliver: (events) => {
      seen.push(...events);
    },
    whenWritable: () => (slow ? new Promise((resolve) => setTimeout(resolve, 2)) : Promise.resolve()),
    fail: (reason) => {
      failed = reason;
    },
  };
  return { sink, seen, failed: () => failed };
}

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

test('ids are log positions, with :index for all but the last event of an entry', async () => {
  await withFeed(async (ledger, feed) => {
    const r = recorder();
    feed.subscribe(null, null, r.sink);
    push(ledger, 'q', 1); // position 1: pushed
    ledger.run((view) => decidePull(view, 'q', context())); // position 2: pulled + drained
    // The delivery rides on the group commit, whose timer is late on a busy machine: wait for it, not a fixed time.
    await until(() => r.seen.length >= 3).catch(() => undefined);
    await settle();
    assert.deepEqual(
      r.seen.map((e) => [e.id, e.event.eventType]),
      [
        ['1', 'pushed'],
        ['2:0', 'pulled'],
        ['2', 'drained'],
      ],
    );
  });
});

test('events reach subscribers only once their entries are on disk', async () => {
  await withFeed(async (ledger, feed, log) => {
    const r = recorder();
    feed.subscribe(null, null, r.sink);
    push(ledger, 'q', 1);
    assert.equal(r.seen.length, 0, 'not before the fsync');
    await log.sync();
    await settle();
    assert.equal(r.seen.length, 1);
    assert.ok(log.durablePosition >= r.seen[0]!.position);
  });
});

test('while the disk is full, events wait for their entries instead of being dropped, and go out once the log resumes', async () => {
  await withTempDir(async (dir) => {
    const faults = faultyFiles();
    const log = await SegmentedLog.open({ dir, wrapFile: faults.wrapFile, stallAnswerMs: 20, stallRetryMs: 5, maxStallRetryMs: 10 });
    const bus = new EventBus();
    const ledger = new Ledger(log, new QueueProjection(), bus);
    const feed = new EventFeed(bus, log, { replayChunk: 512 });
    try {
      const r = recorder();
      feed.subscribe(null, null, r.sink);
      faults.arm({ op: 'writev', code: 'ENOSPC' });
      push(ledger, 'q', 1);
      await until(() => log.stalled);
      // Several of the feed's syncs are refused meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(r.seen.length, 0, 'nothing goes out before it is on disk');
      faults.heal();
      await until(() => r.seen.length === 1);
      assert.equal(r.seen[0]!.event.eventType, 'pushed');
      assert.ok(log.durablePosition >= r.seen[0]!.position);
    } finally {
      await log.close();
    }
  });
});

test('replay from a cursor, then live: no gap, no duplicate, even with events arriving during a slow replay', async () => {
  await withFeed(async (ledger, feed) => {
    push(ledger, 'c', 'first'); // position 1
    ledger.run((view) => decidePull(view, 'c', context())); // position 2: '2:0' pulled, '2' drained
    for (let i = 0; i < 300; i++) {
      push(ledger, i % 2 ? 'a' : 'b', i);
      if (i % 3 === 0) ledger.run((view) => decidePull(view, 'a', context()));
    }
    const all = recorder();
    feed.subscribe(parseEventCursor('0'), null, all.sink);
    const fromMiddle = recorder(true);
    // Cursor inside a multi-event entry: its later events are still due.
    feed.subscribe(parseEventCursor('2:0'), null, fromMiddle.sink);
    const queueA = recorder(true);
    feed.subscribe(parseEventCursor('0'), 'a', queueA.sink);
    // Live events while the replays run.
    for (let i = 300; i < 400; i++) {
      push(ledger, i % 2 ? 'a' : 'b', i);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const lastId = () => all.seen.at(-1)?.id;
    const gotLast = () => all.seen.some((e) => e.event.eventType === 'pushed' && (e.event as { data: unknown }).data === 399);
    await until(() => gotLast() && lastId() !== undefined && [fromMiddle, queueA].every((r) => r.seen.at(-1)?.id === all.seen.filter((e) => r !== queueA || e.event.queue === 'a').at(-1)?.id));
    const ids = all.seen.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no duplicate');
    const positions = [...new Set(all.seen.map((e) => e.position))];
    assert.deepEqual(positions, Array.from({ length: positions.length }, (_, i) => i + 1), 'every position, in order');
    assert.deepEqual(all.seen.slice(1, 3).map((e) => e.id), ['2:0', '2']);
    assert.deepEqual(fromMiddle.seen.map((e) => e.id), all.seen.slice(2).map((e) => e.id), 'replay from "2:0" continues exactly after it');
    assert.deepEqual(
      queueA.seen.map((e) => e.id),
      all.seen.filter((e) => e.event.queue === 'a').map((e) => e.id),
      'queue filter',
    );
  }, 16);
});

test('a subscriber whose live backlog overflows during replay is given up on', async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentedLog.open({ dir });
    const bus = new EventBus();
    const ledger = new Ledger(log, new QueueProjection(), bus);
    const feed = new EventFeed(bus, log, { replayChunk: 1, maxBacklog: 5 });
    for (let i = 0; i < 20; i++) push(ledger, 'q', i);
    const stuck = recorder();
    stuck.sink.whenWritable = () => new Promise(() => {}); // never writable again
    feed.subscribe(parseEventCursor('0'), null, stuck.sink);
    for (let i = 0; i < 10; i++) push(ledger, 'q', i);
    await settle();
    assert.equal(stuck.failed(), 'too far behind while replaying');
    assert.equal(feed.size, 0);
    await log.close();
  });
});

test('cursor parsing', () => {
  assert.deepEqual(parseEventCursor('42'), { position: 42, index: null });
  assert.deepEqual(parseEventCursor(' 7:2 '), { position: 7, index: 2 });
  for (const bad of ['', 'x', '-1', '1:', '1:x', '1.5', '9'.repeat(20)]) assert.equal(parseEventCursor(bad), null, bad);
});
