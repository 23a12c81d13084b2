// A subscriber whose delivery throws loses its own stream; the command that published, the other subscribers and the process go on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePush } from '../../src/domain/decidePush.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { parseEventCursor } from '../../src/projections/eventCursor.ts';
import { EventFeed, type FeedEvent, type FeedSink } from '../../src/projections/EventFeed.ts';
import type { JobEvent } from '../../src/projections/jobEvents.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { commandContext } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { withTempDir } from '../log/helpers.ts';

const context = commandContext(30_000);

function push(ledger: Ledger, data: unknown) {
  const options = parsePushOptions({ data });
  assert.ok(options.ok);
  return ledger.run((view) => decidePush(view, 'q', options.value, context()));
}

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A sink recording what it got; `throwAfter` deliveries, it throws. */
function sink(throwAfter = Infinity) {
  const seen: FeedEvent[] = [];
  let deliveries = 0;
  let failed: string | null = null;
  const value: FeedSink = {
    deliver: (events) => {
      if (++deliveries > throwAfter) throw new Error('socket exploded');
      seen.push(...events);
    },
    whenWritable: () => Promise.resolve(),
    fail: (reason) => {
      failed = reason;
    },
  };
  return { sink: value, seen, failed: () => failed };
}

test('EventBus: a throwing listener is dropped and reported; the publishing command and the other listeners go on', async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentedLog.open({ dir });
    const errors: unknown[] = [];
    const bus = new EventBus((err) => errors.push(err));
    const ledger = new Ledger(log, new QueueProjection(), bus);
    let thrower = 0;
    const seen: JobEvent[] = [];
    bus.subscribe(() => {
      thrower++;
      throw new Error('listener bug');
    });
    bus.subscribe((event) => seen.push(event));
    const first = push(ledger, 1);
    const second = push(ledger, 2);
    assert.ok(first.ok && second.ok, 'the commands succeeded');
    assert.equal(ledger.state.jobCount, 2);
    assert.deepEqual(seen.map((e) => e.eventType), ['pushed', 'pushed'], 'the other listener got every event');
    assert.equal(thrower, 1, 'the thrower was dropped after its first throw');
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /listener bug/);
    await log.close();
  });
});

test('EventFeed: a sink that throws on a live delivery is given up; the others keep receiving', async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentedLog.open({ dir });
    const bus = new EventBus();
    const ledger = new Ledger(log, new QueueProjection(), bus);
    const feed = new EventFeed(bus, log);
    const bad = sink(0);
    const good = sink();
    feed.subscribe(null, null, bad.sink);
    feed.subscribe(null, null, good.sink);
    push(ledger, 1);
    await until(() => good.seen.length === 1);
    assert.match(bad.failed() ?? '', /delivery failed: socket exploded/);
    assert.equal(feed.size, 1, 'the failed subscriber is gone');
    push(ledger, 2);
    await until(() => good.seen.length === 2);
    await log.close();
  });
});

test('EventFeed: a sink that throws during a replay is given up without an unhandled rejection', async () => {
  const rejections: unknown[] = [];
  const onRejection = (err: unknown) => rejections.push(err);
  process.on('unhandledRejection', onRejection);
  try {
    await withTempDir(async (dir) => {
      const log = await SegmentedLog.open({ dir });
      const bus = new EventBus();
      const ledger = new Ledger(log, new QueueProjection(), bus);
      for (let i = 0; i < 50; i++) push(ledger, i);
      const feed = new EventFeed(bus, log, { replayChunk: 8 });
      const bad = sink(2);
      const good = sink();
      feed.subscribe(parseEventCursor('0'), null, bad.sink);
      feed.subscribe(parseEventCursor('0'), null, good.sink);
      await until(() => good.seen.length === 50 && bad.failed() !== null);
      assert.equal(bad.seen.length, 16, 'two chunks, then the throw');
      assert.equal(feed.size, 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(rejections, []);
      await log.close();
    });
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});
