// MAX_REPLAYS: replays read the log a few at a time; later ones wait their turn and still lose nothing.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decidePush } from '../../src/domain/decidePush.ts';
import { parsePushOptions } from '../../src/domain/pushOptions.ts';
import { SegmentedLog } from '../../src/log/SegmentedLog.ts';
import { EventBus } from '../../src/projections/EventBus.ts';
import { parseEventCursor } from '../../src/projections/eventCursor.ts';
import { EventFeed, type FeedEvent, type FeedSink } from '../../src/projections/EventFeed.ts';
import { QueueProjection } from '../../src/projections/QueueProjection.ts';
import { commandContext } from '../../src/commands/CommandContext.ts';
import { Ledger } from '../../src/commands/Ledger.ts';
import { withTempDir } from '../log/helpers.ts';
import { cleanupAll, qname, startServer, waitFor } from '../support/testServer.ts';
import { WsTestClient } from '../support/wsClient.ts';

after(async () => {
  await cleanupAll();
});

const context = commandContext(30_000);

function push(ledger: Ledger, data: unknown): void {
  const options = parsePushOptions({ data });
  assert.ok(options.ok);
  assert.ok(ledger.run((view) => decidePush(view, 'q', options.value, context())).ok);
}

/** A sink whose client takes nothing until `open()` (or ever, if never opened). */
function gatedSink() {
  const seen: FeedEvent[] = [];
  let failed: string | null = null;
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const sink: FeedSink = {
    deliver: (events) => void seen.push(...events),
    whenWritable: () => gate,
    fail: (reason) => void (failed = reason),
  };
  return { sink, seen, open: () => openGate(), failed: () => failed };
}

async function withFeed(options: { maxReplays: number; replayStallMs?: number }, fn: (ledger: Ledger, feed: EventFeed) => Promise<void>) {
  await withTempDir(async (dir) => {
    const log = await SegmentedLog.open({ dir });
    const bus = new EventBus();
    const ledger = new Ledger(log, new QueueProjection(), bus);
    const feed = new EventFeed(bus, log, { replayChunk: 10, ...options });
    try {
      await fn(ledger, feed);
    } finally {
      await log.close();
    }
  });
}

const until = (condition: () => boolean) => waitFor(condition, 3000, 5);

describe('EventFeed replay slots', () => {
  it('with maxReplays 1, the second replay waits for the first; both end complete, in order, live events included', async () => {
    await withFeed({ maxReplays: 1 }, async (ledger, feed) => {
      for (let i = 0; i < 100; i++) push(ledger, i);
      const first = gatedSink();
      const second = gatedSink();
      second.open();
      feed.subscribe(parseEventCursor('0'), null, first.sink);
      feed.subscribe(parseEventCursor('0'), null, second.sink);
      await until(() => first.seen.length === 10);
      assert.deepEqual(feed.replays, { active: 1, queued: 1 });
      assert.equal(second.seen.length, 0, 'the second has not started reading');
      for (let i = 100; i < 120; i++) push(ledger, i); // live, while both replay or wait
      first.open();
      await until(() => first.seen.length === 120 && second.seen.length === 120);
      const ids = first.seen.map((e) => e.id);
      assert.deepEqual(ids, Array.from({ length: 120 }, (_, i) => String(i + 1)), 'every event once, in order');
      assert.deepEqual(second.seen.map((e) => e.id), ids);
      assert.deepEqual(feed.replays, { active: 0, queued: 0 });
    });
  });

  it('a replaying client that takes nothing is given up after replayStallMs, freeing the slot', async () => {
    await withFeed({ maxReplays: 1, replayStallMs: 100 }, async (ledger, feed) => {
      for (let i = 0; i < 50; i++) push(ledger, i);
      const stuck = gatedSink();
      const next = gatedSink();
      next.open();
      feed.subscribe(parseEventCursor('0'), null, stuck.sink);
      feed.subscribe(parseEventCursor('0'), null, next.sink);
      await until(() => next.seen.length === 50);
      assert.match(stuck.failed() ?? '', /replay stalled/);
      assert.equal(feed.size, 1);
    });
  });
});

describe('MAX_REPLAYS over WebSocket', () => {
  it('with MAX_REPLAYS=1, two replays from 0 run one at a time (per /prometheus) and both get every event', async () => {
    const srv = await startServer({ env: { MAX_REPLAYS: '1' } });
    const q = qname('replay');
    // ~10 MB of events: enough that a client that stops reading blocks its replay (past the kernel's socket buffers).
    const big = 'x'.repeat(50_000);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(await srv.push(q, { data: big }));
    const gauge = async (name: string) => {
      const text = (await srv.request('GET', '/prometheus')).text;
      return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
    };
    const first = await WsTestClient.connect(srv.port, `/ws/queues/${q}?from=0`);
    first.pause();
    const second = await WsTestClient.connect(srv.port, `/ws/queues/${q}?from=0`);
    await waitFor(async () => (await gauge('bunqueue_stream_replays_queued')) === 1, 5000);
    assert.equal(await gauge('bunqueue_stream_replays_active'), 1);
    const last = await srv.push(q, { data: 'live' });
    first.resume();
    const pushedIds = (client: WsTestClient) => client.events.filter((e) => e.eventType === 'pushed').map((e) => e.jobId);
    await first.until(() => pushedIds(first).length === 201, 'first replay', 15_000);
    await second.until(() => pushedIds(second).length === 201, 'second replay', 15_000);
    assert.deepEqual(pushedIds(first), [...ids, last]);
    assert.deepEqual(pushedIds(second), [...ids, last]);
    assert.equal(await gauge('bunqueue_stream_replays_active'), 0);
    first.close();
    second.close();
    await srv.stop();
  });
});
