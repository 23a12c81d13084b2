import assert from 'node:assert/strict';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { LogWriteError } from '../../src/log/LogWriteError.ts';
import { segmentFileName } from '../../src/log/segmentFiles.ts';
import { collect, frameOffsets, openLog, withTempDir } from './helpers.ts';

const PAYLOAD = Buffer.alloc(200, 0x61);
const firstSegment = (dir: string): string => join(dir, segmentFileName(1));

test('1000 concurrent durable appends share a few fsyncs, and each resolves only after its fsync', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { flushIntervalMs: 60_000 });
    const before = log.stats.fsyncs;
    const results = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const position = log.append(1, PAYLOAD);
        const fsyncsAtAppend = log.stats.fsyncs;
        await log.sync(position);
        return { position, fsyncsAtAppend, fsyncs: log.stats.fsyncs, durable: log.durablePosition };
      }),
    );
    for (const r of results) {
      assert.ok(r.durable >= r.position, `sync(${r.position}) resolved with durablePosition ${r.durable}`);
      assert.ok(r.fsyncs > r.fsyncsAtAppend, `sync(${r.position}) resolved without an fsync after its append`);
    }
    const fsyncs = log.stats.fsyncs - before;
    assert.ok(fsyncs >= 1 && fsyncs < 100, `${fsyncs} fsyncs for 1000 durable appends`);
    assert.ok(log.stats.flushes >= 1);
    // Independently of the log's own bookkeeping: all 1000 frames are in the file before close.
    assert.equal((await frameOffsets(firstSegment(dir))).length, 1000);
    await log.close();
  }));

test('a sync promise stays pending until the flush that covers it', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { flushIntervalMs: 60_000 });
    const position = log.append(1, PAYLOAD);
    let resolved = false;
    const synced = log.sync(position).then(() => {
      resolved = true;
    });
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.equal(resolved, false);
    assert.equal(log.durablePosition, 0);
    await synced;
    assert.equal(log.durablePosition, position);
    assert.equal((await frameOffsets(firstSegment(dir))).length, 1);
    // Already durable: resolves without another fsync.
    const fsyncs = log.stats.fsyncs;
    await log.sync(position);
    await log.sync(0);
    assert.equal(log.stats.fsyncs, fsyncs);
    await log.close();
  }));

test('sequential durable clients: throughput comes from sharing fsyncs', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { flushIntervalMs: 60_000 });
    const before = log.stats.fsyncs;
    const clients = 20;
    const perClient = 25;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < perClient; i++) await log.sync(log.append(2, PAYLOAD));
      }),
    );
    assert.equal(log.durablePosition, clients * perClient);
    const fsyncs = log.stats.fsyncs - before;
    assert.ok(fsyncs <= 2 * perClient + 5, `${fsyncs} fsyncs for ${clients * perClient} durable appends by ${clients} clients`);
    await log.close();
  }));

test('buffered appends without a waiter are flushed by the timer', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { flushIntervalMs: 20 });
    const fsyncs = log.stats.fsyncs;
    const appendedAt = performance.now();
    for (let i = 0; i < 5; i++) log.append(3, PAYLOAD);
    assert.equal(log.durablePosition, 0);
    await sleep(5);
    // Only meaningful if the machine is not so loaded that the sleep outlasted the interval.
    if (performance.now() - appendedAt < 15) assert.equal(log.stats.fsyncs, fsyncs, 'not before the interval');
    for (let waited = 0; waited < 200 && log.durablePosition < 5; waited += 10) await sleep(10);
    assert.equal(log.durablePosition, 5);
    assert.equal(log.stats.flushes, 1);
    assert.equal((await frameOffsets(firstSegment(dir))).length, 5);
    // flush() makes everything durable right away.
    log.append(3, PAYLOAD);
    await log.flush();
    assert.equal(log.durablePosition, 6);
    await log.close();
  }));

/** 50-byte payloads make 59-byte frames: with a 32-byte header, 3 fit in a 256-byte segment. */
const SMALL = Buffer.alloc(50, 0x62);

test('a failed write rejects pending and future syncs, makes append throw, and is exposed', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 256, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) log.append(1, SMALL);
    await log.sync();
    // Something occupies the name of the next segment: the rotation's create fails.
    await mkdir(join(dir, segmentFileName(4)));
    const pending = Array.from({ length: 10 }, () => log.sync(log.append(1, SMALL)));
    for (const p of pending) await assert.rejects(p, LogWriteError);
    assert.ok(log.failure instanceof LogWriteError);
    assert.equal(log.durablePosition, 3);
    assert.throws(() => log.append(1, SMALL), LogWriteError);
    await assert.rejects(log.sync(), LogWriteError);
    await assert.rejects(log.close(), LogWriteError);

    await rmdir(join(dir, segmentFileName(4)));
    const { log: reopened } = await openLog(dir, { segmentBytes: 256 });
    assert.equal(reopened.lastPosition, 3, 'the durable records, nothing else');
    assert.equal((await collect(reopened.read(1))).length, 3);
    await reopened.close();
  }));

test('a failed timer flush (nobody waiting) still makes the next append throw', () =>
  withTempDir(async (dir) => {
    const { log } = await openLog(dir, { segmentBytes: 256, flushIntervalMs: 5 });
    for (let i = 0; i < 3; i++) log.append(1, SMALL);
    await log.flush();
    await mkdir(join(dir, segmentFileName(4)));
    log.append(1, SMALL);
    for (let waited = 0; waited < 200 && !log.failure; waited += 5) await sleep(5);
    assert.ok(log.failure instanceof LogWriteError);
    assert.throws(() => log.append(1, SMALL), LogWriteError);
    await assert.rejects(log.close(), LogWriteError);
  }));
